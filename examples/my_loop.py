"""A plain PyTorch loop on your own data, tracked into a run directory that nnopt doctor and
nnopt report read (run from the repository root):

    python examples/my_loop.py && nnopt doctor runs/my-loop
"""
import torch
from torch import nn

import nnopt

torch.manual_seed(0)
data = nnopt.data.load("npz", path="examples/data/blobs.npz")  # or any tensors of your own
model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, data.n_outputs))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = nn.CrossEntropyLoss()

with nnopt.track.Run("runs/my-loop", model=model, optimizer=opt) as run:
    for epoch in range(10):
        for idx in torch.randperm(len(data.train)).split(32):
            loss = loss_fn(model(data.train.x[idx]), data.train.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.step(loss=loss)  # reads the loss, lr and gradient norm every 10th step only
        with torch.no_grad():
            train = model(data.train.x)
            val = model(data.val.x)
        run.epoch(train_loss=loss_fn(train, data.train.y).item(),
                  train_acc=(train.argmax(1) == data.train.y).float().mean().item(),
                  val_loss=loss_fn(val, data.val.y).item(),
                  val_acc=(val.argmax(1) == data.val.y).float().mean().item())
