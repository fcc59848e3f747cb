"""The DALI engine's loader: the CPU engine's rows, order and random params, with DALI doing the pixel work.

Host side (Python threads), for each sample of a batch:
- the image file's bytes, which DALI decodes (8-bit RGB/gray JPEG and PNG), or
  the image decoded by dataprep.io for anything else (16-bit, RGBA, ...);
- the label map read with `io.read_mask`: DALI's decoder would turn palette PNGs,
  which is what `masks2labels` writes, into colours;
- the typed augmentation params of each step (`dataprep.ops.steps.CompiledSteps.draw`),
  the very params the CPU engine applies to that sample.
All of it enters the graph through `fn.external_source`, in the order of
`epoch_order`, so shuffling and sharding are the CPU engine's too.

DALI side (GPU when available, else DALI's CPU backend): decode, then each
step's DALI node (declared with the op's spec, see dataprep.ops.dali_graph for
how closely each matches the CPU engine), then `crop_mirror_normalize` to
float CHW.

nvidia.dali is imported only when this engine is used.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import recipe as R
from ..contracts import DatasetInfo
from ..errors import DataprepError, UsageError
from ..io import (PathLike, check_complete, check_manifest_size, load_sample, mask_size_error, read_encoded_bytes,
                  read_info)
from ..manifest import Manifest
from ..ops.dali_graph import build_steps, compile_dali_ops, input_name
from ..ops.steps import CompiledSteps
from ..sampleio import load_row_mask
from .dataset import (
    MAX_VALUE,
    DataSpec,
    check_sharding,
    dataset_channels,
    describe_sizes,
    epoch_order,
    label_map,
    manifest_size,
    resolve_spec,
    sample_rngs,
)
from .sampler import EpochRepeatGuard, epoch_length, loader_repeat_factors, repeated_order

# Images DALI decodes itself: PIL mode -> channels.
_DALI_DECODABLE = {"RGB": 3, "L": 1}
_DALI_FORMATS = {"JPEG", "PNG"}


def require_dali() -> None:
    try:
        import nvidia.dali  # noqa: F401
    except ImportError:
        raise DataprepError(
            None, "engine 'dali' needs NVIDIA DALI: pip install nvidia-dali-cuda120 (or dataprep[dali])"
        ) from None


# --------------------------------------------------------------------------- the loader


@dataclass(frozen=True)
class _ImageFormat:
    decode_on_dali: bool  # False: decoded on the host by dataprep.io
    channels: int
    dtype: np.dtype


def _probe_format(spec: DataSpec) -> _ImageFormat:
    """How images are decoded (the first row's kind decides) and the dataset's channels (`dataset_channels`)."""
    row = spec.rows[0]
    info = read_info(row.image)
    # PIL calls a 16-bit RGB PNG "RGB" too; DALI's decoder would hand it over as 8-bit, so 16-bit is host-decoded.
    if info.format in _DALI_FORMATS and info.mode in _DALI_DECODABLE and info.dtype == "uint8":
        channels = dataset_channels(spec.normalization, _DALI_DECODABLE[info.mode])
        return _ImageFormat(True, channels, np.dtype(np.uint8))
    image = load_sample(row, mask="skip", purpose="the Dataset").image
    return _ImageFormat(False, dataset_channels(spec.normalization, int(image.shape[2])), image.dtype)


def check_dali_input(spec: DataSpec) -> None:
    """DALI's graph handles 1- and 3-channel 8/16-bit images; other data is refused in one line, never decoded grey."""
    row = spec.rows[0]
    image = load_sample(row, mask="skip", purpose="the DALI engine").image
    if image.shape[2] not in (1, 3) or image.dtype not in (np.uint8, np.uint16):
        raise UsageError(str(row.image), f"the DALI engine reads 1- or 3-channel 8/16-bit images, this one has "
                         f"{image.shape[2]} band(s) of {image.dtype}; use the cpu engine")


class DaliLoader:
    """Batches from a DALI pipeline, in the same format, order and augmentation as the CPU engine."""

    engine = "dali"

    def __init__(
        self,
        manifest: Manifest | PathLike,
        recipe: R.Recipe | PathLike | Mapping[str, Any] | None = None,
        stats: Mapping[str, Any] | PathLike | None = None,
        *,
        fold: int | None = None,
        split: str | None = None,
        seed: int = 0,
        ignore_index: int | None = None,
        batch_size: int = 8,
        shuffle: bool = True,
        num_threads: int = 2,
        drop_last: bool = False,
        shard_id: int = 0,
        num_shards: int = 1,
        device: torch.device | str | None = None,
        class_balance: float | None = None,
        info: DatasetInfo | None = None,
    ) -> None:
        check_sharding(shard_id, num_shards)
        self.spec = resolve_spec(
            manifest, recipe, stats, fold=fold, split=split, seed=seed, ignore_index=ignore_index, engine=R.DALI,
            info=info,
        )
        check_dali_input(self.spec)  # before require_dali: the data, not the install, is the problem
        require_dali()
        self.ops = self._compile_ops(255.0)  # fails early on unsupported steps; rebuilt below for 16-bit
        self.factors = loader_repeat_factors(self.spec.rows, stats, class_balance)
        # Used only to draw params (never to transform pixels): the CPU engine's draws.
        self._steps = CompiledSteps(
            self.spec.steps, size=self.spec.size, ignore_index=self.spec.ignore_index, source=self.spec.recipe_source
        ) if self.spec.steps else None
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.shard_id = shard_id
        self.num_shards = num_shards
        self.num_threads = num_threads
        self.epoch = 0
        self._repeats = EpochRepeatGuard(shuffle)
        self.device_id = _device_id(device)
        self.format = _probe_format(self.spec)
        self.max_value = MAX_VALUE.get(self.format.dtype, 255.0)
        if self.max_value != 255.0:
            self.ops = self._compile_ops(self.max_value)
        self.mean, self.std = self.spec.normalization.values(self.format.channels, self.max_value)
        self.mask_dtype = np.dtype(np.uint16 if self.spec.ignore_index > 255 else np.uint8)
        self._pipe = None
        self._fed: set[str] = set()  # the inputs the built pipeline reads (see build_steps)
        self._io_pool: ThreadPoolExecutor | None = None
        self._prep_pool: ThreadPoolExecutor | None = None

    def _compile_ops(self, max_value: float):
        return compile_dali_ops(self.spec.steps, self.spec.size, max_value=max_value, source=self.spec.recipe_source)

    # ---- the loader protocol

    @property
    def ids(self) -> list[str]:
        """Ids of all rows this loader reads from (before sharding)."""
        return [r.id for r in self.spec.rows]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def indices(self, copies: bool = False):
        """This shard's indices (`copies`: and their copy numbers, see `shard_order`), as the CPU engine's."""
        if self.factors is not None:
            return repeated_order(self.factors, seed=self.spec.seed, epoch=self.epoch, shuffle=self.shuffle,
                                  shard_id=self.shard_id, num_shards=self.num_shards, copies=copies)
        return epoch_order(len(self.spec.rows), seed=self.spec.seed, epoch=self.epoch, shuffle=self.shuffle,
                           shard_id=self.shard_id, num_shards=self.num_shards, copies=copies)

    def __len__(self) -> int:
        total = epoch_length(self.factors) if self.factors is not None else len(self.spec.rows)
        n = -(-total // self.num_shards)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        epoch = self.epoch
        self._repeats.starting(epoch)
        order, copies = self.indices(copies=True)
        keyed = np.stack([order, copies], axis=1)  # one (index, copy) row per sample
        batches = [keyed[i:i + self.batch_size] for i in range(0, len(keyed), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if not batches:
            return
        pipe = self._pipeline()
        prep = self._pools()[1]
        pending: Future = prep.submit(self._host_batch, epoch, batches[0])
        try:
            for k in range(len(batches)):
                inputs = pending.result()
                if k + 1 < len(batches):
                    # Read the next batch's files while DALI works on this one.
                    pending = prep.submit(self._host_batch, epoch, batches[k + 1])
                try:
                    for name, data in inputs.items():
                        if name in self._fed:
                            pipe.feed_input(name, data)
                    outputs = pipe.run()
                except Exception as exc:
                    self._pipe = None  # a failed DALI pipeline cannot run again; the next epoch builds a new one
                    if isinstance(exc, DataprepError):
                        raise
                    raise DataprepError(None, f"the DALI pipeline failed on batch {k} of this epoch: "
                                              f"{_first_line(exc)} (engine: cpu runs every step)") from exc
                yield self._to_torch(outputs)
        finally:
            pending.cancel()

    # ---- host side

    def _pools(self) -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
        if self._io_pool is None:
            self._io_pool = ThreadPoolExecutor(self.num_threads, thread_name_prefix="dataprep-dali-io")
            self._prep_pool = ThreadPoolExecutor(1, thread_name_prefix="dataprep-dali-prep")
        return self._io_pool, self._prep_pool  # type: ignore[return-value]

    def _read(self, index: int) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
        row = self.spec.rows[index]
        if self.format.decode_on_dali:
            try:
                reason = check_complete(row.image)
            except OSError as exc:  # a file gone since the manifest was written: one line, as on the cpu engine
                raise DataprepError(row.image, "file not found" if isinstance(exc, FileNotFoundError)
                                    else f"unreadable: {exc.strerror or exc}") from None
            if reason:
                raise DataprepError(row.image, reason)
            data = read_encoded_bytes(row.image)
            info = read_info(row.image)
            check_manifest_size(row.image, (info.width, info.height), manifest_size(row))  # before DALI decodes it
            if info.dtype != "uint8":
                # DALI's decoder hands a 16-bit PNG over as 8-bit: its low bits were lost without a word.
                raise DataprepError(row.image, f"{info.dtype} image, but the first image of the manifest is uint8 "
                                               "(decoded by DALI, 8-bit); one pipeline needs one kind: store the "
                                               "images at one bit depth, or use engine cpu")
            if self.format.channels == 1 and info.mode != "L":
                # DALI's GRAY output would turn it gray without a word.
                raise DataprepError(row.image, f"{info.mode} image, but the dataset's images have 1 channel (as its "
                                               "first image); one Dataset needs one kind")
            shape: tuple[int, ...] = (info.height, info.width, self.format.channels)
            image = data
            mask = load_row_mask(row, purpose="the Dataset")
            if mask.shape != tuple(shape[:2]):
                raise mask_size_error(row.mask, mask.shape[1::-1], shape[1::-1], Path(row.image).name)
        else:
            sample = load_sample(row, channels=self.format.channels, purpose="the Dataset")
            image, mask = sample.image, sample.mask
            if image.dtype != self.format.dtype:
                raise DataprepError(
                    row.image, f"{image.dtype} image, but the first image of the manifest is {self.format.dtype}; "
                    "one pipeline needs one kind",
                )
            shape = image.shape
        mask = label_map(mask, row.mask)
        if mask.dtype != self.mask_dtype:
            if mask.size and int(mask.max()) > np.iinfo(self.mask_dtype).max:
                raise DataprepError(row.mask, f"label values up to {int(mask.max())} do not fit {self.mask_dtype}: "
                                              "the DALI engine's label maps are 16-bit only with an ignore index "
                                              "above 255 (give the palette ignore_index 65535, as `dataprep import` "
                                              "does beyond 255 classes), or use engine cpu")
            mask = mask.astype(self.mask_dtype)
        return image, mask[:, :, None], tuple(shape)

    def _host_batch(self, epoch: int, keys: np.ndarray) -> dict[str, list[np.ndarray]]:
        io_pool = self._pools()[0]
        read = list(io_pool.map(self._read, [int(i) for i in keys[:, 0]]))
        inputs: dict[str, list[np.ndarray]] = {"image": [], "mask": [], "index": []}
        for name in self._param_names():
            inputs[name] = []
        for (index, copy), (image, mask, shape) in zip(keys, read):
            inputs["image"].append(image)
            inputs["mask"].append(mask)
            inputs["index"].append(np.int64(index))
            for name, value in self._sample_inputs(epoch, int(index), shape, int(copy)).items():
                inputs[name].append(value)
        return inputs

    def _param_names(self) -> list[str]:
        return [input_name(k, name) for k, op in enumerate(self.ops) for name in op.inputs]

    def _sample_inputs(self, epoch: int, index: int, shape: tuple[int, ...], copy: int = 0) -> dict[str, np.ndarray]:
        """Per-sample op inputs from the params the CPU engine draws for (seed, epoch, index, copy)."""
        if not self.ops:
            return {}
        np_rng, _ = sample_rngs(self.spec.seed, epoch, index, copy)
        drawn = self._steps.draw(np_rng, shape)
        values: dict[str, np.ndarray] = {}
        for k, (op, (params, in_shape)) in enumerate(zip(self.ops, drawn)):
            for name, value in op.feed(params, in_shape).items():
                values[input_name(k, name)] = value
        return values

    # ---- DALI side

    def _pipeline(self):
        if self._pipe is not None:
            return self._pipe
        from nvidia.dali import fn, types
        from nvidia.dali.pipeline import Pipeline

        gpu = self.device_id is not None
        # Batches are fed one at a time (feed_input, then run): depth 1 keeps feeding and running in step.
        pipe = Pipeline(batch_size=self.batch_size, num_threads=self.num_threads, device_id=self.device_id,
                        seed=self.spec.seed & 0x7FFFFFFF, prefetch_queue_depth=1)
        with pipe:
            if self.format.decode_on_dali:
                encoded = fn.external_source(name="image", dtype=types.UINT8, ndim=1)
                # On the GPU, libjpeg-turbo's chroma upsampling keeps pixels equal to the CPU decoders'.
                extra = {"jpeg_fancy_upsampling": True} if gpu else {}
                image = fn.decoders.image(
                    encoded, device="mixed" if gpu else "cpu",
                    output_type=types.RGB if self.format.channels == 3 else types.GRAY, **extra,
                )
            else:
                image = fn.external_source(name="image", layout="HWC", ndim=3,
                                           dtype=types.UINT16 if self.format.dtype == np.uint16 else types.UINT8)
                image = image.gpu() if gpu else image
            mask = fn.external_source(name="mask", layout="HWC", ndim=3,
                                      dtype=types.UINT16 if self.mask_dtype == np.uint16 else types.UINT8)
            mask = mask.gpu() if gpu else mask
            index = fn.external_source(name="index", dtype=types.INT64, ndim=0)
            self._fed = {"image", "mask", "index"}
            image, mask = build_steps(self.ops, image, mask, fn=fn, types=types, gpu=gpu,
                                      channels=self.format.channels, max_value=self.max_value,
                                      ignore_index=self.spec.ignore_index, used=self._fed)
            image = fn.crop_mirror_normalize(image, dtype=types.FLOAT, output_layout="CHW",
                                             mean=self.mean.tolist(), std=self.std.tolist())
            pipe.set_outputs(image, mask, index)
        pipe.build()
        self._pipe = pipe
        return pipe

    def _to_torch(self, outputs) -> dict[str, Any]:
        image, mask, index = outputs
        ids = [self.spec.rows[int(i)].id for i in np.asarray(index.as_array()).reshape(-1)]
        if not (image.is_dense_tensor() and mask.is_dense_tensor()):
            shapes = [tuple(image[i].shape()) for i in range(len(image))]
            raise DataprepError(
                None, f"cannot batch samples of different sizes ({describe_sizes(ids, shapes)}); "
                "add a resize or crop step with a recipe `size`, or use batch_size=1",
            )
        return {"image": _tensor(image, self.device_id), "mask": _tensor(mask, self.device_id)[..., 0].long(),
                "id": ids}

    def close(self) -> None:
        """Release the pipeline and host threads (also done when the loader is garbage collected)."""
        self._pipe = None
        for pool in (self._io_pool, self._prep_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self._io_pool = self._prep_pool = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: modules may already be gone
            pass


def _tensor(tensor_list, device_id: int | None) -> torch.Tensor:
    """A DALI TensorList (dense) as a torch tensor on the pipeline's device (a copy: DALI reuses its buffers)."""
    if device_id is None:
        return torch.from_numpy(np.array(tensor_list.as_array()))
    from nvidia.dali.plugin.pytorch import feed_ndarray, to_torch_type

    dense = tensor_list.as_tensor()
    out = torch.empty(dense.shape(), dtype=to_torch_type[dense.dtype], device=torch.device("cuda", device_id))
    feed_ndarray(dense, out, cuda_stream=torch.cuda.current_stream(device_id))
    return out


def _device_id(device: torch.device | str | None) -> int | None:
    """The GPU the pipeline runs on, or None for DALI's CPU backend."""
    if device is None:
        return torch.cuda.current_device() if _cuda_usable() else None
    device = torch.device(device)
    if device.type == "cpu":
        return None
    if device.type != "cuda":
        raise DataprepError(None, f"the DALI engine runs on CUDA devices or the CPU, not {device}")
    if not _cuda_usable():
        raise DataprepError(None, f"device {device} asked for, but CUDA is not available to torch")
    return device.index if device.index is not None else torch.cuda.current_device()


def _cuda_usable() -> bool:
    return torch.cuda.is_available() and torch.cuda.device_count() > 0


def _first_line(exc: BaseException) -> str:
    """DALI's errors carry its C++ stack after the first lines: the line that says what failed."""
    lines = []
    for line in (line.strip() for line in str(exc).splitlines()):
        if line.startswith(("C++ context", "Current pipeline object")):
            break
        if line and not line.startswith("Critical error in pipeline"):
            lines.append(line)
    return f"{type(exc).__name__}: {' '.join(lines[:3])[:300]}"
