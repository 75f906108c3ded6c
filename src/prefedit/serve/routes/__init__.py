"""One module per endpoint group, each with an ``APIRouter`` named ``router``."""
