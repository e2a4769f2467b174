import sys

from playcanvas_backup.cli import main

sys.exit(main())
