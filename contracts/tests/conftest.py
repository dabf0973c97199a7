import sys
from pathlib import Path

# The helpers beside the tests (contract_samples, contract_strategies) import as top-level modules
# under --import-mode=importlib; their prefix keeps them clear of other packages' test helpers.
sys.path.insert(0, str(Path(__file__).parent))

CONTRACTS = Path(__file__).resolve().parents[1]
