"""pytest plugin with the course's nbval policy (loaded with ``-p tests.nbval_settings``).

Strict nbval compares every saved output of ``solutions/``, except ``stderr``:
warnings and progress bars go there, and their text depends on the machine.
"""

from nbval.plugin import IPyNbCell


def pytest_collection_modifyitems(items: list) -> None:
    for item in items:
        if isinstance(item, IPyNbCell) and "stderr" not in item.parent.skip_compare:
            item.parent.skip_compare = (*item.parent.skip_compare, "stderr")
