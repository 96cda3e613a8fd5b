"""One training epoch and one evaluation pass of the classifier.

Metrics are summed over processes (DDP) before they are reported: the training loss is the
mean over every sample of the epoch, top-1/top-5 are percentages of the whole validation set.
"""
import time

import torch

from .distributed import all_reduce_sum

__all__ = ["topk_correct", "train_one_epoch", "evaluate", "make_grad_scaler", "autocast"]


def topk_correct(logits, target, ks=(1, 5)):
    """Number of samples whose label is among the top-k logits, for each k (capped at C)."""
    maxk = min(max(ks), logits.shape[1])
    pred = logits.topk(maxk, dim=1).indices
    hit = pred.eq(target.view(-1, 1))
    return [hit[:, :min(k, maxk)].any(dim=1).sum().item() for k in ks]


def make_grad_scaler(enabled):
    """A CUDA ``GradScaler`` (torch.amp on torch >= 2.3, torch.cuda.amp before), or None."""
    if not enabled:
        return None
    amp = getattr(torch, "amp", None)
    if amp is not None and hasattr(amp, "GradScaler"):
        return amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


def autocast(device, enabled):
    """``torch.autocast`` for CUDA when enabled; a no-op context otherwise."""
    return torch.autocast(device_type=device.type, enabled=bool(enabled and device.type == "cuda"))


def _progress(iterable, enabled, desc):
    if not enabled:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, desc=desc, leave=False, dynamic_ncols=True)


def train_one_epoch(model, loader, criterion, optimizer, scheduler, ctx, epoch, cfg, log,
                    scaler=None):
    """Train for one epoch; return ``{"loss", "top1", "lr", "time"}`` (loss summed over ranks)."""
    model.train()
    device = ctx.device
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct@1, samples
    start = time.time()
    n = len(loader)
    bar = _progress(loader, cfg["progress"] and ctx.is_main,
                    "epoch {}/{}".format(epoch + 1, cfg["epochs"]))
    for i, (images, target) in enumerate(bar):
        images = images.to(device, non_blocking=True)
        target = target.to(device, non_blocking=True)
        with autocast(device, scaler is not None):
            logits = model(images)
            loss = criterion(logits, target)
        if not torch.isfinite(loss):
            raise FloatingPointError("training loss is {} at epoch {}, iteration {}; lower "
                                     "optimizer.lr or check the data".format(
                                         loss.item(), epoch + 1, i))
        optimizer.zero_grad()
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        scheduler.step()
        with torch.no_grad():  # accumulate on the device: no host sync per iteration
            b = target.shape[0]
            hit = logits.argmax(dim=1).eq(target).sum()
            totals += torch.stack([loss.detach().double() * b, hit.double(),
                                   totals.new_tensor(float(b))])
        if ctx.is_main and (i % cfg["print_freq"] == 0 or i == n - 1):
            log.info("epoch %d iter %d/%d loss %.4f lr %.6g (%.1f s)", epoch + 1, i + 1, n,
                     loss.item(), optimizer.param_groups[0]["lr"], time.time() - start)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss="{:.3f}".format(loss.item()))
    totals = all_reduce_sum(totals.cpu())
    count = max(1.0, totals[2].item())
    return {"loss": totals[0].item() / count, "top1": 100.0 * totals[1].item() / count,
            "lr": optimizer.param_groups[0]["lr"], "time": time.time() - start}


@torch.no_grad()
def evaluate(model, loader, ctx, criterion=None, amp=False, progress=False):
    """Top-1 / top-5 accuracy (percent) and mean loss over the whole validation set."""
    model.eval()
    totals = torch.zeros(4, dtype=torch.float64)  # correct@1, correct@5, loss sum, samples
    for images, target in _progress(loader, progress and ctx.is_main, "eval"):
        images = images.to(ctx.device, non_blocking=True)
        target = target.to(ctx.device, non_blocking=True)
        with autocast(ctx.device, amp):
            logits = model(images)
        c1, c5 = topk_correct(logits.float(), target, (1, 5))
        loss = criterion(logits.float(), target).item() * target.shape[0] if criterion else 0.0
        totals += torch.tensor([c1, c5, loss, target.shape[0]], dtype=torch.float64)
    all_reduce_sum(totals)
    count = max(1.0, totals[3].item())
    return {"top1": 100.0 * totals[0].item() / count, "top5": 100.0 * totals[1].item() / count,
            "loss": totals[2].item() / count, "count": int(totals[3].item())}
