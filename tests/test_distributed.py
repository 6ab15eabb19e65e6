import json
import textwrap
import unittest

from tests.helpers import run_in_fresh_interpreter

# TensorFlow's devices are fixed when it starts, so each check runs in a
# fresh process whose CPU is split into two logical devices, standing in
# for two GPUs.
SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from unittest.mock import patch
    from tests.helpers import QUICK_MANUAL, expression_table
    from orangecontrib.neuralgene import NeuralGeneClassifierLearner
    import orangecontrib.neuralgene.distributed as distributed

    data = expression_table(n_samples=80)
    seen_epochs = []
    replicas = []
    real = distributed.train_distributed

    def spy(strategy, *args):
        replicas.append(strategy.num_replicas_in_sync)
        return real(strategy, *args)

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with patch.object(distributed, "train_distributed", spy), \\
            strategy.scope():
        # distributed training is training by hand
        model = NeuralGeneClassifierLearner(
            **dict(QUICK_MANUAL, patience=5, learning_rate=0.01))(
            data, epoch_callback=lambda e, n, logs: seen_epochs.append(e))
    probs = model(data, model.Probs)
    print(json.dumps({
        "replicas": replicas,
        "history_keys": sorted(model.history),
        "epochs": model.n_epochs_trained,
        "seen_epochs": seen_epochs,
        "best_epoch": model.best_epoch,
        "accuracy": float(np.mean(model(data) == data.Y)),
        "sums": np.allclose(probs.sum(axis=1), 1),
    }))
""")


class TestMultiDeviceTraining(unittest.TestCase):
    def test_mirrored_strategy_trains_over_two_devices(self):
        done = run_in_fresh_interpreter(self, SCRIPT)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        self.assertEqual(result["replicas"], [2])
        self.assertEqual(result["history_keys"],
                         ["accuracy", "loss", "val_accuracy", "val_loss"])
        self.assertEqual(result["seen_epochs"],
                         list(range(1, result["epochs"] + 1)))
        self.assertLessEqual(result["best_epoch"], result["epochs"])
        self.assertGreater(result["accuracy"], 0.9)
        self.assertTrue(result["sums"])


if __name__ == "__main__":
    unittest.main()
