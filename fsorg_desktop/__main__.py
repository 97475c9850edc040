"""``python -m fsorg_desktop [--storage DIR] [--screenshot PNG]``."""

import sys


def main() -> int:
    from fsorg_desktop.app import run

    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
