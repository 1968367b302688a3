from .ckpt_convert import convert_mambavision, extract_state_dict

__all__ = ['convert_mambavision', 'extract_state_dict']
