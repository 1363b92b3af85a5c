"""Training loops for the optimizers beyond the chapter: `closure_train` for those that need a
closure (SAM), `run` picks the loop an optimizer asks for (``needs_closure``)."""
from conftest import X, Y, train
from torch.nn import functional as F


def closure_train(model, opt, steps, start=0):
    """`train`'s batches, for optimizers that need a closure: the gradient at θ first, then
    step(closure) with a closure that recomputes it."""
    x = X.to(next(model.parameters()).dtype)
    for t in range(start, start + steps):
        i = (t % 3) * 32

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(model(x[i:i + 32]), Y[i:i + 32])
            loss.backward()
            return loss
        closure()
        opt.step(closure)


def run(model, opt, steps, start=0):
    (closure_train if getattr(opt, "needs_closure", False) else train)(model, opt, steps, start=start)
