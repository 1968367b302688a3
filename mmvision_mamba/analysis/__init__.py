from mmvision_mamba.models import MambaVisionClassifier  # moved to models/classifiers; kept importable here
from .flops import (MambaVisionFlopAnalyzer, PaperFlopCounter, count_flops, count_paper_flops, flop_handles,
                    flops_table, scan_as_one_op, scan_flop_jit, sdpa_flop_jit)
from .tensor_forward import fake_data_samples, tensor_forward

__all__ = ['MambaVisionClassifier', 'MambaVisionFlopAnalyzer', 'PaperFlopCounter', 'count_flops',
           'count_paper_flops', 'flop_handles', 'flops_table', 'scan_as_one_op', 'scan_flop_jit', 'sdpa_flop_jit',
           'fake_data_samples', 'tensor_forward']
