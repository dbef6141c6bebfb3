"""``python -m amzc``: the same as the ``amzc`` command."""

from amzc.cli import main

if __name__ == "__main__":
    main()
