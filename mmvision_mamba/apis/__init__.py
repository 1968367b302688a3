"""The run layer: what tools/train.py, tools/test.py and the other tools do before and around a run (arguments,
config checks, distributed start-up and end, TTA, test-server files), and the model of a config for inference."""
from ..utils.distributed import close_process_group
from .cli import add_run_args, load_run_config
from .config_checks import adapt_to_device, check_backbone_channels, missing_data
from .inference import infer_image, init_inferencer, init_model, load_config, load_weights, model_registry
from .launch import init_cpu_distributed
from .run import prepare_run
from .submission import finish_submission, prepare_submission
from .tta import apply_tta
from .visualization import enable_visualization

__all__ = [
    'add_run_args', 'adapt_to_device', 'apply_tta', 'check_backbone_channels', 'close_process_group',
    'enable_visualization', 'finish_submission', 'infer_image', 'init_cpu_distributed', 'init_inferencer',
    'init_model', 'load_config', 'load_run_config', 'load_weights', 'missing_data', 'model_registry', 'prepare_run',
    'prepare_submission'
]
