#!/usr/bin/env bash
# The GPU checks the issues name, as one script for a machine with CUDA and torch installed
# (nnopt itself runs from the checkout). Writes logs under ${OUT:-gpu-out}.
#   bash scripts/gpu-checks.sh
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
step() { echo "== $*"; }

step "device"
$py -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"

step "nnopt run: train.device = auto picks CUDA"
$py -m nnopt.cli run --quiet --out "$out/run-auto" | tee "$out/run-auto.txt"
grep -q '"device": "cuda' "$out/run-auto/summary.json" && echo "device: cuda (ok)"

step "trainer tests on CUDA (resume after SIGKILL / Ctrl-C bit-identical, divergence, ...)"
$py -m pytest -q -p no:cacheprovider tests/test_trainer.py 2>&1 | tail -15

step "optimizer tests on CUDA (native kernels; every default step under sync_debug_mode error)"
$py -m pytest -q -p no:cacheprovider tests/optim -k cuda 2>&1 | tail -5

step "optimizer step benchmark, CUDA"
$py bench/optim_step.py --device cuda 2>&1 | tee "$out/optim_step_cuda.txt"

step "augmentation benchmark, CUDA"
$py bench/augment.py --device cuda 2>&1 | tee "$out/augment_cuda.txt"

step "data-parallel training on nccl: 2 ranks (needs 2 GPUs), sync_batch, parameters vs one process"
if [ "$($py -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ]; then
  common=(--quiet --set model.norm=sync_batch --set train.epochs=2 --set train.device=cuda)
  $py -m nnopt.cli run "${common[@]}" --out "$out/ddp-one" && $py -m nnopt.cli run "${common[@]}" --nproc 2 --out "$out/ddp-two" &&
    $py -c "import sys, torch; a, b = (torch.load(f'$out/ddp-{n}/model.pt') for n in ('one', 'two'));
print('max |Δθ| one vs two ranks:', max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].is_floating_point()))"
else
  echo "skipped: one GPU (nccl runs one rank per GPU); tests/test_distributed.py covers gloo on CPU"
fi
