#!/usr/bin/env python
"""Compiles the Triton selective-scan kernels for GPU targets on a machine without a GPU, and reports registers,
spills, stack and shared memory per kernel (see mmvision_mamba/analysis/triton_aot.py).

    python tools/analysis_tools/triton_aot.py                                  # the full sweep, every target
    python tools/analysis_tools/triton_aot.py --targets sm_80 sm_90 --variants mambavision --out aot.json
    MMVM_TRITON_TILE=1024 python tools/analysis_tools/triton_aot.py           # another launch configuration

Prints a markdown table (specialisations with the same numbers share a row; --out writes every one as JSON).
Exit code 1 when a kernel fails the check: it does not compile, spills, needs stack, or exceeds a card's shared
memory or registers per block.
"""
import argparse
import json
import sys
import time
from typing import List, Optional

from mmvision_mamba.analysis import triton_aot


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Compile-check the Triton scan kernels for GPU targets')
    parser.add_argument('--targets', nargs='+', default=[t.name for t in triton_aot.TARGETS],
                        choices=[t.name for t in triton_aot.TARGETS])
    parser.add_argument('--variants', nargs='+', choices=list(triton_aot.VARIANTS),
                        help='optional inputs and layout (default: those of the full sweep)')
    parser.add_argument('--dtypes', nargs='+', choices=list(triton_aot.DTYPES),
                        help="dtype modes for every variant (default: each variant's in the full sweep)")
    parser.add_argument('--models', nargs='+', choices=list(triton_aot.MAMBAVISION_ARCHS),
                        help='MambaVision variants whose scan shapes to launch (default: all)')
    parser.add_argument('--settings', nargs='+', choices=list(triton_aot.SETTINGS),
                        help='image settings (default: all)')
    parser.add_argument('--directions', nargs='+', default=['fwd', 'bwd'], choices=['fwd', 'bwd'])
    parser.add_argument('--workers', type=int, help='compile processes (default: the CPUs available)')
    parser.add_argument('--out', help='JSON file for every compiled kernel')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    combos = [(variant, args.dtypes or dtypes) for variant, dtypes in triton_aot.SWEEP
              if args.variants is None or variant in args.variants]
    combos += [(variant, args.dtypes or ('fp32', )) for variant in args.variants or ()
               if variant not in dict(triton_aot.SWEEP)]
    targets = [t for t in triton_aot.TARGETS if t.name in args.targets]
    start = time.time()
    reports, skipped = triton_aot.sweep(targets, combos, triton_aot.mambavision_shapes(args.models, args.settings),
                                        args.directions, args.workers)
    failed = [r for r in reports if r.problems()]
    print(triton_aot.format_table(reports))
    print(f'\nTriton {triton_aot.triton.__version__}: {len(reports)} kernels compiled in {time.time() - start:.0f} s, '
          f'{len(failed)} failing the check.')
    for name, why in skipped.items():
        print(f'{name} skipped: the installed Triton does not compile for it ({why})')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(dict(triton=triton_aot.triton.__version__, skipped=skipped,
                           targets=[vars(t) for t in targets], kernels=[r.row() for r in reports]), f, indent=1)
        print(f'wrote {args.out}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
