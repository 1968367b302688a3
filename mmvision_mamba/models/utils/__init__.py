from .ckpt_convert import as_tensor, convert_mambavision, extract_state_dict
from .mm_checkpoint import MM_DATASETS, convert_to_mm_checkpoint, dataset_meta, head_classes, infer_arch

__all__ = ['MM_DATASETS', 'as_tensor', 'convert_mambavision', 'convert_to_mm_checkpoint', 'dataset_meta',
           'extract_state_dict', 'head_classes', 'infer_arch']
