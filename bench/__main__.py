# Nameko services run in this process under eventlet: patch before anything else is imported.
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # eventlet's own deprecation notice
    import eventlet

eventlet.monkey_patch()

import sys  # noqa: E402

from bench.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
