"""Training batches from the decode-once store (store.py): the paper's augmentation done on
the training device, a whole batch at a time.

Per step the host only gathers the batch's uint8 rows out of the store (a memcpy, no
decoding; from a JPEG store, store_jpeg.py, the JPEGs decoded on the GPU, or on the CPU in
the gather threads) into pinned memory, in background threads a few batches ahead (feed.py: the
rows from the memory map or from the half read into RAM once, how many threads, how far
ahead); on a GPU each thread also starts its batch's copy on a side stream, so the copies
of the next batches overlap the step of this one. On the device: a random `crop` x `crop`
window and a mirror per image (one gather), the conversion to float and the per-channel
normalisation. Nothing here waits for the device (no .item(), no .cpu()).

Crops and mirrors are drawn per epoch from a generator seeded by (net seed, epoch), for the
epoch's slots in order: the same seed gives the same crops on every run and on every
device, and a run resumed at any step of an epoch draws what the uninterrupted run drew.
"""

from __future__ import annotations

import threading
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import torch

from . import store, store_jpeg
from .feed import Feed, from_settings


def crop_flip_normalise(x, tops, lefts, flips, crop: int, mean, std):
    """uint8 images (batch, side, side, 3) -> float (batch, 3, crop, crop), channels_last:
    image i cropped at (tops[i], lefts[i]), mirrored left-right where flips[i], then
    (x - mean) / std per channel (mean and std broadcast as (1, 3, 1, 1), in 0..255 units)."""
    crops = gather_crops if x.is_cuda else slice_crops
    out = crops(x, tops, lefts, flips, crop)  # (batch, crop, crop, 3)
    # NHWC permuted to NCHW is channels_last already: the layout the nets train in.
    return out.permute(0, 3, 1, 2).float().sub_(mean).div_(std)


def gather_crops(x, tops, lefts, flips, crop: int):
    """Crops and mirrors as one gather kernel (a GPU's way: no per-image launches)."""
    index = torch.arange(crop, device=x.device)
    rows = tops[:, None] + index
    cols = lefts[:, None] + torch.where(flips[:, None], crop - 1 - index, index)
    batch = torch.arange(x.shape[0], device=x.device)[:, None, None]
    return x[batch, rows[:, :, None], cols[:, None, :]]


def slice_crops(x, tops, lefts, flips, crop: int):
    """The same crops as gather_crops, image by image (the CPU's way: a plain copy each,
    several times faster there than a gather of every pixel)."""
    out = torch.empty((x.shape[0], crop, crop, x.shape[3]), dtype=x.dtype)
    draws = zip(tops.tolist(), lefts.tolist(), flips.tolist(), strict=True)
    for i, (top, left, flip) in enumerate(draws):
        window = x[i, top : top + crop, left : left + crop]
        out[i] = window.flip(1) if flip else window
    return out


def epoch_draws(seed: int, epoch: int, count: int, side: int, crop: int, flip: bool):
    """(tops, lefts, flips) of an epoch's `count` slots: a pure function of its arguments."""
    generator = torch.Generator().manual_seed(zlib.crc32(f"{seed}/crops/{epoch}".encode()))
    tops = torch.randint(0, side - crop + 1, (count,), generator=generator)
    lefts = torch.randint(0, side - crop + 1, (count,), generator=generator)
    flips = torch.rand(count, generator=generator) < 0.5
    return tops, lefts, flips & flip


class StoredImages:
    """One part (train, val or test) of a half: stands in for an image tensor in
    solver.train, with len(), batches(order, size, epoch) and split(size)."""

    augments_on_device = True  # the solver must not mirror these batches again

    def __init__(self, pixels, rows, crop: int, mean, std, random_crop: bool, feed=None):
        self.pixels, self.rows, self.crop = pixels, rows, crop
        self.feed = feed or Feed()
        # A JPEG store's batches are decoded (store_jpeg.Decoder); raw rows are copied.
        self.decoder = None
        if isinstance(pixels, store_jpeg.EncodedRows):
            self.decoder = store_jpeg.Decoder(pixels.side)
        self.side = pixels.shape[1]
        self.mean_255 = torch.tensor(mean).mul(255).view(1, -1, 1, 1)
        self.std_255 = torch.tensor(std).mul(255).view(1, -1, 1, 1)
        self.random_crop = random_crop
        self.prepare(torch.device("cpu"), seed=0, flip=False)

    def __len__(self) -> int:
        return len(self.rows)

    def prepare(self, device, seed: int, flip: bool) -> None:
        """Where batches go and what they draw: called by solver.train before training."""
        self.device, self.seed, self.flip = torch.device(device), seed, flip
        self.mean = self.mean_255.to(self.device)
        self.std = self.std_255.to(self.device)

    def _gather(self, positions) -> torch.Tensor:
        """The uint8 rows of these positions, in pinned memory when they go to a GPU."""
        rows = self.rows[positions]
        pin = self.device.type == "cuda"
        if self.decoder is not None:  # JPEGs decoded on the CPU
            decoded = self.decoder(self.pixels.encoded(rows), "cpu")
            return decoded.pin_memory() if pin else decoded
        shape = (len(rows), *self.pixels.shape[1:])
        out = torch.empty(shape, dtype=torch.uint8, pin_memory=pin)
        return torch.index_select(self.pixels, 0, rows, out=out)

    def _fetch(self, positions):
        """Host gather, then (on a GPU) the copy on a side stream; run in the prefetch thread.
        JPEGs bound for a GPU are decoded there, on the same side stream."""
        if self.device.type != "cuda":
            return self._gather(positions), None
        side = self._side_stream()
        decode_here = self.decoder is not None and not self.decoder.cpu_only
        host = None if decode_here else self._gather(positions)
        with torch.cuda.stream(side):
            if decode_here:
                encoded = self.pixels.encoded(self.rows[positions])
                on_device = self.decoder(encoded, self.device)
                if on_device.device.type != "cuda":  # the decoder fell back to the CPU
                    on_device = on_device.to(self.device, non_blocking=False)
            else:
                on_device = host.to(self.device, non_blocking=True)
            ready = torch.cuda.Event()
            ready.record(side)
        return on_device, ready

    def _side_stream(self):
        local = _THREAD_STATE
        if getattr(local, "stream", None) is None or local.device != self.device:
            local.stream, local.device = torch.cuda.Stream(self.device), self.device
        return local.stream

    def _arrive(self, fetched) -> torch.Tensor:
        """A fetched batch, usable on the current stream."""
        x, ready = fetched
        if ready is not None:
            current = torch.cuda.current_stream(self.device)
            current.wait_event(ready)
            x.record_stream(current)  # its memory is not reused while this stream needs it
        elif x.device != self.device:
            x = x.to(self.device)
        return x

    def _prefetched(self, chunks):
        """Each chunk's fetched batch, in order, the next `feed.in_flight` ones fetched by
        the gather threads while the caller uses this one."""
        if not chunks:
            return
        ahead = self.feed.in_flight
        with ThreadPoolExecutor(self.feed.gather_threads, thread_name_prefix="gather") as pool:
            pending = deque(pool.submit(self._fetch, c) for c in chunks[:ahead])
            for k in range(len(chunks)):
                fetched = pending.popleft().result()
                if k + ahead < len(chunks):
                    pending.append(pool.submit(self._fetch, chunks[k + ahead]))
                yield self._arrive(fetched)

    def batches(self, order, batch_size: int, epoch: int = 0, start_step: int = 0):
        """(positions, images) of each training step of `epoch` from step `start_step` on,
        positions on the training device (to index its labels), images augmented there."""
        order = order.cpu()
        tops, lefts, flips = epoch_draws(
            self.seed, epoch, len(order), self.side, self.crop, self.flip and self.random_crop
        )
        if not self.random_crop:
            tops = lefts = torch.full((len(order),), (self.side - self.crop) // 2)
        draws = torch.stack([tops, lefts, flips.long(), order]).to(self.device)
        chunks = list(order.split(batch_size))[start_step:]
        first = start_step * batch_size
        for k, x in enumerate(self._prefetched(chunks)):
            lo = first + k * batch_size
            t, left, f, positions = draws[:, lo : lo + len(chunks[k])]
            yield (
                positions,
                crop_flip_normalise(x, t, left, f.bool(), self.crop, self.mean, self.std),
            )

    def split(self, size: int):
        """Evaluation batches in order: centre crops, no mirror."""
        n, middle = len(self), (self.side - self.crop) // 2
        chunks = [torch.arange(i, min(i + size, n)) for i in range(0, n, size)]
        for x in self._prefetched(chunks):
            centre = torch.full((len(x),), middle, device=self.device)
            no = torch.zeros(len(x), dtype=torch.bool, device=self.device)
            yield crop_flip_normalise(x, centre, centre, no, self.crop, self.mean, self.std)


_THREAD_STATE = threading.local()  # each gather thread's side CUDA stream


def load_half(descriptor_path, descriptor: dict, half: dict, relabel, feed=None) -> dict:
    """StoredImages of a half's train (random crops), val and test (centre crops) images,
    read as `feed` (a feed.Feed or a job's settings["feed"]; None: the defaults) says."""
    feed = from_settings(feed)
    if feed.stage_to:  # a node-local copy, made once per node (store.stage_store)
        descriptor_path = store.stage_store(descriptor_path, feed.stage_dir())
    offsets = {"train": 0, "test": descriptor["rows"]["train"]}
    if feed.in_memory:
        pixels, held = in_memory_half(descriptor_path, descriptor, half, feed.pin_half)
        where = lambda rows: torch.from_numpy(held.searchsorted(rows.numpy()))  # noqa: E731
    else:
        pixels = store.open_pixels(descriptor_path, descriptor)
        where = lambda rows: rows  # noqa: E731  (store row -> row of `pixels`)
    parts = {}
    for part, source in (("train", "train"), ("val", "train"), ("test", "test")):
        idx = torch.tensor(half[f"{part}_idx"], dtype=torch.int64)
        images = StoredImages(
            pixels,
            where(idx + offsets[source]),
            descriptor["crop"],
            descriptor["mean"],
            descriptor["std"],
            random_crop=part == "train",
            feed=feed,
        )
        parts[part] = (images, relabel[descriptor[f"{source}_y"][idx]])
    return parts


read_half = load_half  # as halves.load_half asks every reader (readers.py)


def in_memory_half(descriptor_path, descriptor: dict, half: dict, pin: bool = False):
    """The half's rows read once, in file order, into one uint8 tensor in RAM (page-locked
    if `pin` and CUDA is present), and the store rows it holds (ascending: row i of the
    tensor is store row held[i])."""
    pixels = store.check_store(descriptor_path, descriptor)
    held = store.half_rows(descriptor, half)
    side = descriptor["side"]
    needed = store.half_bytes(descriptor, half)
    store.check_fits_in_memory(descriptor_path, needed, store.memory_limit())
    if store.is_jpeg(descriptor):
        return store_jpeg.read_rows(pixels, descriptor["offsets"].numpy(), held, side), held
    pin = pin and torch.cuda.is_available()
    out = torch.empty((len(held), side, side, store.CHANNELS), dtype=torch.uint8, pin_memory=pin)
    store.read_rows(pixels, held, side, out.numpy())
    return out, held
