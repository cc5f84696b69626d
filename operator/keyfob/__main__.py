import sys

from keyfob.cli import main

sys.exit(main())
