"""Networks: the generic multi-branch builder and the model zoo."""
from .builder import MultiBranchModule, PoseNet, build_network, init_weights
from .zoo import DATASETS, ZOO, get_spec, hrnet, list_models, litehrnet, sdhrnet

__all__ = ["PoseNet", "MultiBranchModule", "build_network", "init_weights", "ZOO", "DATASETS",
           "get_spec", "list_models", "hrnet", "litehrnet", "sdhrnet"]
