"""The Maglev builder, for compile: it lives in lbcli/model/maglev_table.py (the node rebuilds
tables over its healthy tier-2 nodes with the same code)."""

from lbcli.model.maglev_table import *  # noqa: F401,F403
from lbcli.model.maglev_table import __all__  # noqa: F401
