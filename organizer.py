#!/usr/bin/env python3
"""Thin entry point so the fine-tuning guide's ``python organizer.py ...`` commands work verbatim."""

import sys

from engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
