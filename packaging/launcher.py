"""Entry point of the native bundle: ``fsorg`` starts the app, ``fsorg cli ...`` the command line.

The offline switches are set before anything can import huggingface_hub, so a
bundle never contacts a hub even if a model name were mistyped.
"""

import os
import sys

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> int:
    # The app runs model jobs in spawned child processes; in a frozen bundle the child is this
    # executable again, and freeze_support() turns it into the worker before any argument parsing.
    import multiprocessing

    multiprocessing.freeze_support()
    args = sys.argv[1:]
    if args and args[0] == "cli":
        from engine.cli import main as cli_main

        return cli_main(args[1:])
    if args and args[0] in ("--version", "-V"):
        from engine import __version__

        print(f"fsorg {__version__}")
        return 0
    from fsorg_desktop.app import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
