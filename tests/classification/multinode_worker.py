"""One training process of the two-"machine" loopback test (started by torchrun; see
test_multinode.py).

Runs ``scripts/train_classifier.py``'s ``main`` with this process's arguments, and around it:
* after each epoch's training (before its evaluation), saves this replica's weights and buffers to
  ``$MQ_REPLICA_DIR/rank<RANK>.pth`` (the test compares the replicas with each other and with the
  checkpoint rank 0 wrote);
* with ``MQ_SNAPSHOT_EPOCH=N`` and ``MQ_SNAPSHOT_DIR``, rank 0 copies the output folder there right
  after writing epoch N's checkpoint: the folder a job preempted after epoch N leaves behind, which
  a second launch then resumes.
"""
import importlib.util
import os
import shutil
import sys

import torch

from model_quantization.classification import trainer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _install_hooks():
    rank = os.environ["RANK"]
    folder = os.environ["MQ_REPLICA_DIR"]
    snapshot_epoch = os.environ.get("MQ_SNAPSHOT_EPOCH")
    real_evaluate, real_save = trainer.evaluate, trainer._save_epoch

    def evaluate(model, *args, **kwargs):
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        torch.save(state, os.path.join(folder, "rank{}.pth".format(rank)))
        return real_evaluate(model, *args, **kwargs)

    def save_epoch(output, meta, model, optimizer, scheduler, scaler, cfg, state, is_best):
        real_save(output, meta, model, optimizer, scheduler, scaler, cfg, state, is_best)
        if snapshot_epoch is not None and state["epoch"] == int(snapshot_epoch):
            shutil.copytree(output, os.environ["MQ_SNAPSHOT_DIR"])

    trainer.evaluate, trainer._save_epoch = evaluate, save_epoch


def main(argv):
    _install_hooks()
    spec = importlib.util.spec_from_file_location(
        "train_classifier", os.path.join(ROOT, "scripts", "train_classifier.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
