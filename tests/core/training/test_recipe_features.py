"""Write-up 004's recipe tail, trained for real on small MNIST subsets: augmentation off for the
last epochs, SWA with BatchNorm statistics recomputed, and test-time rotations."""

from __future__ import annotations

import math

import pytest
import torch

from core.data.mnist import to_device
from core.errors import ConfigError
from core.models import get_spec
from core.runs.evaluation import evaluate_run
from core.runs.store import RunStore
from core.training.checkpoints import answer_weights_kind, model_from_state
from core.training.config import TrainConfig
from core.training.control import Reporter, TrainControl
from core.training.evaluate import evaluate, prepare_input
from core.training.loop import train
from core.training.metrics import StepMetrics
from core.training.swa import WeightAverage, batchnorm_layers, recompute_batchnorm
from core.training.tta import RotationTTA, with_tta

# Adam at our models' rate, so that these few steps learn: a net still at chance level would
# make "better" and "different" too easy to get by luck.
TINY = dict(model="dl-tiny-1k", device="cpu", train_subset=500, test_subset=200, batch_size=50,
            epochs=2, log_every=5, seed=2, optimizer="adam", lr=0.02)
SPE = 500 // 50


def numbers(result) -> list[tuple[float, float, float]]:
    return [(m.train_loss, m.train_acc, m.test_loss) for m in result.history]


class StopAt(Reporter):
    def __init__(self, control: TrainControl, step: int) -> None:
        self.control, self.at = control, step

    def step(self, metrics: StepMetrics) -> None:
        if metrics.step == self.at:
            self.control.request_stop()


# --- augmentation off for the last epochs -------------------------------------------------------

def test_augmentation_off_epochs_train_on_the_digits_as_they_are(mnist) -> None:
    augmented = train(TrainConfig(**TINY, augment=1.0, augment_stroke=0.5), data=mnist)
    last_off = train(TrainConfig(**TINY, augment=1.0, augment_stroke=0.5, augment_off_epochs=1),
                     data=mnist)
    all_off = train(TrainConfig(**TINY, augment=1.0, augment_stroke=0.5, augment_off_epochs=2),
                    data=mnist)
    plain = train(TrainConfig(**TINY, augment=0.0), data=mnist)
    # Every epoch off is exactly a run without augmentation: not one random warp was drawn.
    assert numbers(all_off) == numbers(plain)
    # Off only for the last epoch: the first is the augmented run's, the second is not.
    assert numbers(last_off)[0] == numbers(augmented)[0]
    assert numbers(last_off)[1] != numbers(augmented)[1]
    assert numbers(augmented) != numbers(plain)


def test_epoch_counted_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="augmentation-off epochs"):
        TrainConfig(epochs=3, augment_off_epochs=4).validate()
    with pytest.raises(ConfigError, match="SWA epochs"):
        TrainConfig(epochs=3, swa_epochs=-1).validate()
    with pytest.raises(ConfigError, match="TTA rotation"):
        TrainConfig(tta_degrees=45).validate()
    with pytest.raises(ConfigError, match="time budget"):
        TrainConfig(time_budget=60, swa_epochs=2).validate()


# --- SWA ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def swa_runs(mnist, tmp_path_factory):  # -> dict of what the SWA tests compare
    """The same 3 epochs with and without SWA over the last 2; each stopped after epoch 2 and
    resumed, so the raw weights of epochs 2 and 3 can be read from last.pt."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    out = {}
    for name, swa in (("plain", 0), ("swa", 2)):
        config = TrainConfig(**{**TINY, "epochs": 3, "swa_epochs": swa})
        run = store.create(config.to_dict())
        control = TrainControl()
        stopped = train(config, reporter=StopAt(control, 2 * SPE + 5), control=control,
                        data=mnist, run=run)  # steps are reported every 5 (log_every)
        assert stopped.status == "stopped" and stopped.epochs_done == 2
        out[f"{name}_epoch2"] = run.load_checkpoint("last")
        result = train(config, data=mnist, run=store.get(run.id), resume=True)
        out[name] = result
        out[f"{name}_last"] = store.get(run.id).load_checkpoint("last")
    config = TrainConfig(**{**TINY, "epochs": 3, "swa_epochs": 2})
    out["swa_unbroken"] = train(config, data=mnist)
    return out


def test_swa_averages_the_last_epochs_without_changing_training(swa_runs) -> None:
    plain, swa = swa_runs["plain_last"], swa_runs["swa_last"]
    # SWA only watches: the trained weights and training losses are those of the plain run;
    # the test figures differ once the average is what is evaluated (epochs 2 and 3).
    with_swa, without = numbers(swa_runs["swa"]), numbers(swa_runs["plain"])
    assert [n[:2] for n in with_swa] == [n[:2] for n in without]
    assert with_swa[0] == without[0] and with_swa[1][2] != without[1][2]
    for key, value in plain["model"].items():
        assert torch.equal(value, swa["model"][key]), key
    assert swa["swa"]["averaged"] == 2 and swa_runs["swa_epoch2"]["swa"]["averaged"] == 1
    w2, w3 = swa_runs["plain_epoch2"]["model"], plain["model"]
    averaged = swa["swa"]["module"]
    for name, _ in model_from_state(plain, prefer_average=False).named_parameters():
        assert torch.allclose(averaged[name], (w2[name] + w3[name]) / 2, atol=1e-6), name
    assert answer_weights_kind(swa) == "swa" and answer_weights_kind(plain) == "model"


def test_swa_is_what_the_run_evaluated_and_resume_replays_it(swa_runs, mnist) -> None:
    swa = swa_runs["swa_last"]
    model = model_from_state(swa)
    test = to_device(mnist.test_images[:200], mnist.test_labels[:200], torch.device("cpu"))
    loss, acc, _ = evaluate(model, test)
    assert (loss, acc) == (swa_runs["swa"].history[-1].test_loss,
                           swa_runs["swa"].history[-1].test_acc)
    # Stopped inside the SWA window and resumed: the same average as an unbroken run.
    unbroken = swa_runs["swa_unbroken"].model.state_dict()
    for key, value in swa["swa"]["module"].items():
        assert torch.equal(value, unbroken[key]), key


def test_swa_without_batchnorm_recompute_is_worse(swa_runs, mnist) -> None:
    """The playground's lesson: averaged weights with statistics that are not theirs."""
    test = to_device(mnist.test_images[:200], mnist.test_labels[:200], torch.device("cpu"))
    recomputed = model_from_state(swa_runs["swa_last"])
    # What torch's AveragedModel keeps by default (use_buffers=False): the buffers of the model
    # it was made from, here the initial weights'.
    from core.models import build_model

    torch.manual_seed(0)
    stale = WeightAverage(build_model("dl-tiny-1k"))
    for name, p in stale.module.named_parameters():
        p.data.copy_(recomputed.state_dict()[name])
    assert batchnorm_layers(stale.module)
    stale_loss = evaluate(stale.module, test)[0]
    good_loss = evaluate(recomputed, test)[0]
    assert good_loss < stale_loss and not math.isclose(good_loss, stale_loss)
    # Recomputing the stale copy's statistics on the same training images gives the run's.
    train_images = torch.from_numpy(mnist.train_images[:500].copy())
    recompute_batchnorm(stale.module, train_images, 256)
    assert evaluate(stale.module, test)[0] == pytest.approx(good_loss, rel=1e-5)


# --- test-time augmentation ---------------------------------------------------------------------

def _ink_angle(image: torch.Tensor) -> float:
    """Orientation in degrees of the ink's principal axis in a (28, 28) [0, 1] image."""
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    w = image.clamp(min=0)
    m = w.sum()
    cx, cy = (w * xs).sum() / m, (w * ys).sum() / m
    cov_xx = (w * (xs - cx) ** 2).sum() / m
    cov_yy = (w * (ys - cy) ** 2).sum() / m
    cov_xy = (w * (xs - cx) * (ys - cy)).sum() / m
    return math.degrees(0.5 * math.atan2(2 * cov_xy, cov_xx - cov_yy))


def test_tta_reads_rotated_views_on_a_black_background() -> None:
    seen: list[torch.Tensor] = []

    class Spy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = torch.nn.Linear(784, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.detach().clone())
            return self.head(x.flatten(1))

    bar = torch.zeros(1, 28, 28, dtype=torch.uint8)
    bar[0, 13:15, 4:24] = 255  # a horizontal stroke
    tta = RotationTTA(Spy(), 3.0).eval()
    out = tta(prepare_input(bar, None, None))
    assert torch.allclose(out.exp().sum(1), torch.ones(1))  # log of averaged probabilities
    (views,) = seen
    pixels = views[:, 0] * 0.3081 + 0.1307  # back to [0, 1]
    angles = sorted(_ink_angle(v) for v in pixels)
    assert angles == pytest.approx([-3.0, 0.0, 3.0], abs=0.3)
    corners = pixels[:, :3, :3]
    assert corners.abs().max() < 1e-5  # padding is background, not grey
    plain = Spy()
    assert with_tta(plain, TrainConfig()) is plain


def test_tta_run_is_evaluated_with_rotations_everywhere(mnist) -> None:
    store = RunStore()
    config = TrainConfig(**{**TINY, "tta_degrees": 3.0})
    run = store.create(config.to_dict())
    result = train(config, data=mnist, run=run)
    record = store.get(run.id).record
    assert record.config["tta_degrees"] == 3.0
    report = evaluate_run(store.get(run.id), "last", data_dir=mnist.source, test_subset=200)
    last = result.history[-1]
    assert report.loss == pytest.approx(last.test_loss, rel=1e-6)
    assert report.accuracy == last.test_acc
    test = to_device(mnist.test_images[:200], mnist.test_labels[:200], torch.device("cpu"))
    without = evaluate(result.model, test)[0]
    assert without != pytest.approx(last.test_loss, rel=1e-6)  # the rotations changed it


def test_pg_model3_recipe_is_the_playgrounds_complete_tail() -> None:
    spec = get_spec("pg-model3")
    recipe = spec.recipe
    assert recipe["tta_degrees"] == 3.0 and recipe["swa_epochs"] > 0
    assert 2 <= recipe["augment_off_epochs"] <= 3
    assert "not expressible" not in spec.description.lower()
    TrainConfig().with_overrides(**recipe).validate()
