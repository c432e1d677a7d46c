"""``python -m archiver``.

The collector is off while the CLI's modules load and back on (with them frozen) before the
command runs: ``archiver.cli.common.begin_process``.
"""

import gc

gc.disable()

from archiver.cli import main  # noqa: E402

main()
