# Nameko services run in this process under eventlet: patch before anything else is imported.
import eventlet

eventlet.monkey_patch()

import sys  # noqa: E402

from bench.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
