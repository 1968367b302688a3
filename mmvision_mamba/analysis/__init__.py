from .classifier import MambaVisionClassifier
from .flops import (MambaVisionFlopAnalyzer, PaperFlopCounter, count_flops, count_paper_flops, flop_handles,
                    flops_table, scan_as_one_op, scan_flop_jit, sdpa_flop_jit)

__all__ = ['MambaVisionClassifier', 'MambaVisionFlopAnalyzer', 'PaperFlopCounter', 'count_flops',
           'count_paper_flops', 'flop_handles', 'flops_table', 'scan_as_one_op', 'scan_flop_jit', 'sdpa_flop_jit']
