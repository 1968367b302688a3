from .ckpt_convert import as_tensor, convert_mambavision, extract_state_dict

__all__ = ['as_tensor', 'convert_mambavision', 'extract_state_dict']
