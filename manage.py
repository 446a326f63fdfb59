#!/usr/bin/env python
"""Django's manage.py for those who expect it; ``keel`` is the same command."""

from keel.__main__ import main

if __name__ == "__main__":
    main()
