"""``python -m leakhunt``: the same as the ``leakhunt`` console script."""

from leakhunt import main

main()
