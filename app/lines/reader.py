"""The /lines pipeline: page -> line crops -> normalised lines -> batched CRNN -> CTC decoding."""

import itertools
import math
from dataclasses import dataclass

import numpy as np

from app.core.engine import OnnxModel
from app.core.errors import ModelLoadError, TooManyCharacters
from app.lines import orient
from app.lines.ctc import DecodedChar, align, beam_search, greedy_decode, log_softmax
from app.lines.direction import LineDirection
from app.lines.lm import CharNgramLM
from app.lines.preprocess import fit_line, frame_count, to_batch
from app.lines.segment import LineBox, LineCrop, find_lines
from app.vision.binarize import dark_ink
from app.vision.blocks import smooth_blocks
from app.vision.page import paper_only

REQUIRED_METADATA = ("charset", "height", "mean", "std", "stride")
# Lines are batched with others at most this much wider, so padding stays small.
WIDTH_RATIO = 1.5
# Frames of one request decoded by beam search (32 px lines: 4 columns a frame, ~16,000 columns
# of text); the rest are decoded greedily, so no upload can make decoding run for minutes.
BEAM_MAX_FRAMES = 4096


@dataclass(frozen=True)
class ReadChar:
    char: str
    confidence: float
    x: int  # left edge in the uploaded image
    width: int
    y: int = 0  # top edge in the uploaded image
    height: int = 0


@dataclass(frozen=True)
class ReadLine:
    text: str
    confidence: float
    box: LineBox
    characters: list[ReadChar]


class LineReader:
    """Reads handwritten lines with a CRNN ONNX model; charset and input format come from the
    model's metadata."""

    def __init__(
        self,
        model: OnnxModel,
        max_lines: int = 64,
        max_width: int = 4096,
        lm: CharNgramLM | None = None,
        lm_weights: dict[str, float] | None = None,
        direction: LineDirection | None = None,
    ) -> None:
        self.model = model
        self.direction = direction
        self.charset: list[str] = list(model.meta_json("charset"))  # type: ignore[arg-type]
        self.height = int(model.metadata["height"])
        self.mean = float(model.metadata["mean"])
        self.std = float(model.metadata["std"])
        self.stride = int(model.metadata["stride"])
        self.max_lines = max_lines
        self.max_width = max_width
        if direction is not None and direction.height != self.height:
            raise ModelLoadError(
                f"the direction model reads lines {direction.height} px high, "
                f"the line model {self.height}: they must match"
            )
        weights = {k: w for k, w in (lm_weights or {}).items() if w > 0}
        self.lm_score = lm.scorer(self.charset, weights) if lm and weights else None

    def recognise(self, lines: list[np.ndarray]) -> list[np.ndarray]:
        """Normalised lines -> per line T x C log-probabilities over its own frames.

        Lines are sorted by width and cut into groups no wider than WIDTH_RATIO times their
        narrowest member; each group is one onnxruntime call (usually one call in all).
        """
        out: list[np.ndarray] = [np.zeros((0, len(self.charset)))] * len(lines)
        order = sorted(range(len(lines)), key=lambda i: lines[i].shape[1])
        group: list[int] = []
        for i in [*order, None]:
            if group and (i is None or lines[i].shape[1] > WIDTH_RATIO * lines[group[0]].shape[1]):
                batch = to_batch([lines[k] for k in group], self.mean, self.std, self.stride)
                logits = self.model.run(batch)  # N x T x C
                for row, k in enumerate(group):
                    frames = frame_count(lines[k].shape[1], self.stride)
                    out[k] = log_softmax(logits[row, :frames].astype(np.float64))
                group = []
            if i is not None:
                group.append(i)
        return out

    def read(self, gray: np.ndarray, single_line: bool = False, beam: int = 0) -> list[ReadLine]:
        """Every line of a grayscale page, top to bottom; `beam` > 1 uses prefix beam search.
        A page that reads unsurely is also read turned (`app.lines.orient`), and binarised
        as /digits binarises."""
        page = paper_only(smooth_blocks(gray))
        crops = self._crops(page, single_line)
        turns, crops, reading = self._turn(
            page, crops, self._read_crops(crops, beam, judge=True), single_line, beam
        )
        confidences = _confidences(reading)
        if orient.looks_unsure(confidences) or _reads_little(confidences, crops):
            # Read again binarised as /digits binarises (`find_lines`' second_look): a
            # shadow's or a vignette's dark edge stays ink under the plain max filter the
            # model was trained on, which reads even pages best, and so does a squared
            # paper's grid. The surer reading wins (`orient.gain`). A page read as a few
            # characters (under orient.MIN_CHARS: a shadow's edge can join its lines into one
            # blob) is read again too, but a word's reading is no guide: only a reading of
            # more characters replaces it.
            # A page taken for light ink on dark paper is also read with its ink taken for
            # the darker: a lamp's glare or a vignette's bright middle over a line's page
            # passes for light writing.
            few = reading.count < orient.MIN_CHARS
            looks = [False, True] if dark_ink(page) is not page else [False]
            for dark_only in looks:
                try:
                    lit_crops = self._crops(page, single_line, turns, True, dark_only)
                except TooManyCharacters:
                    continue
                if not _same_crops(lit_crops, crops):  # even light: the same crops, unread
                    lit = self._read_crops(lit_crops, beam)
                    # Paper read as ink is nonsense, but a word or two of it can be likely
                    # enough for the language model: its characters must read surer too.
                    surer = not dark_only or lit.chars >= reading.chars
                    more = not few or lit.count >= orient.MIN_CHARS
                    if orient.gain(lit, reading) > 0.0 and surer and more:
                        reading = lit
        return reading.found

    def _turn(
        self,
        page: np.ndarray,
        crops: list[LineCrop],
        upright: orient.Reading,
        single_line: bool,
        beam: int,
    ) -> tuple[int, list[LineCrop], orient.Reading]:
        """The quarter turns (counter-clockwise) the page reads surest at, its lines and its
        reading there: `upright` (of `crops`) unless it reads unsurely and a turn wins."""
        found = upright.found
        # One line much taller than wide (read with single_line) is a line on its side,
        # however few characters its reading has.
        tall = len(found) == 1 and orient.on_its_side(found[0].box.width, found[0].box.height)
        confidences = _confidences(upright)
        # A page read as a character or two, unsurely (a page on its side: its lines
        # crossed), is looked at every way round.
        little = _reads_little(confidences, crops)
        upside = orient.looks_upside_down(upright)
        if not (orient.looks_unsure(confidences) or tall or little or upside):
            return 0, crops, upright
        sideways = orient.looks_sideways(len(found), len(confidences), tall) or little
        best, best_crops, best_reading = 0, crops, upright
        for k in (2, 1, 3) if sideways else (2,):
            try:
                # Upside down, the same lines each turned and in reverse order; on its side,
                # the lines are found again.
                turned_crops = (
                    [c.flipped() for c in reversed(crops)]
                    if k == 2  # the same lines as upright, not found again
                    else self._crops(page, single_line, k)
                )
                # Greedy: the turns are judged at a fraction of a beam search's cost.
                turned = self._read_crops(turned_crops, 0)
            except TooManyCharacters:
                continue  # turned, a long line is a column of many: this way up it is not
            # Judged by the direction model, a half turn need not read surer than upright.
            judged = k == 2 and upright.upside is not None
            if orient.wins(turned, upright, k % 2 == 1, single_line) and (
                judged or turned.chars > best_reading.chars
            ):
                best, best_crops, best_reading = k, turned_crops, turned
        if best == 0 or beam <= 1:
            return best, best_crops, best_reading
        # The winner read again as asked, and held to the same test: a greedy reading can be
        # surer of its characters than the beam's (a half turn: `orient.half_turn_holds`).
        again = self._read_crops(best_crops, beam)
        if orient.wins(again, upright, best % 2 == 1, single_line) or (
            best == 2 and orient.half_turn_holds(again, upright)
        ):
            return best, best_crops, again
        return 0, crops, upright

    def _crops(
        self,
        page: np.ndarray,
        single_line: bool,
        turns: int = 0,
        second_look: bool = False,
        dark_only: bool = False,
    ) -> list[LineCrop]:
        """The page's lines, found on it turned `turns` quarter turns (counter-clockwise) and
        placed in its own pixels (`second_look`, `dark_only`: see `find_lines`). Half a turn:
        the upright page's lines, each turned, in reverse order."""
        if turns == 2:
            upright = self._crops(page, single_line, 0, second_look, dark_only)
            return [c.flipped() for c in reversed(upright)]
        if turns:
            turned = np.ascontiguousarray(np.rot90(page, turns))
            crops = find_lines(turned, single_line, second_look, dark_only)
            crops = [c.turned_back(turns, page.shape) for c in crops]
        else:
            crops = find_lines(page, single_line, second_look, dark_only)
        if len(crops) > self.max_lines:
            raise TooManyCharacters(
                f"The image holds more than {self.max_lines} lines; send a smaller crop."
            )
        return crops

    def _read_crops(self, crops: list[LineCrop], beam: int, judge: bool = False) -> orient.Reading:
        """The lines read from their crops, and how surely (`orient.Reading`); `judge`: also
        which way up they look (`LineDirection`), where a direction model is loaded."""
        fitted = [fit_line(c.gray, self.height) for c in crops]
        for line, _, _ in fitted:
            if line.shape[1] > self.max_width:
                raise TooManyCharacters(
                    f"A line is longer than {self.max_width // self.height} times its height; "
                    "send it in shorter pieces or as several lines."
                )
        scores = self.recognise([line for line, _, _ in fitted])
        result = []
        lm_sum, followers = 0.0, 0
        budget = BEAM_MAX_FRAMES
        for crop, (_, x0, scale), logp in zip(crops, fitted, scores, strict=True):
            # Beam search costs ~0.1 ms a frame on real lines but up to ~0.5 ms on noise: past
            # the budget, the page's remaining lines are read greedily.
            width = beam if len(logp) <= budget else 0
            budget -= len(logp) if width > 1 else 0
            decoded = self._decode(logp, width)
            if not decoded:
                continue
            lm_sum += self._lm_sum([d.index for d in decoded])
            followers += len(decoded) - 1
            edges = char_edges(decoded, len(logp))
            chars = [
                self._place(d, left, right, crop, x0, scale)
                for d, (left, right) in zip(decoded, itertools.pairwise(edges), strict=True)
            ]
            # Geometric mean: one doubtful character makes the whole line doubtful.
            conf = math.exp(sum(math.log(max(c.confidence, 1e-9)) for c in chars) / len(chars))
            text = "".join(c.char for c in chars)
            result.append(ReadLine(text, conf, crop.box, chars))
        frames = [logp.max(axis=1) for logp in scores if len(logp)]
        chars = [c.confidence for line in result for c in line.characters]
        return orient.Reading(
            chars=orient.mean_confidence(chars),
            frames=float(np.concatenate(frames).mean()) if frames else 0.0,
            lines=len(result),
            found=result,
            lm=lm_sum / followers if followers else 0.0,
            upside=self._upside([line for line, _, _ in fitted]) if judge else None,
        )

    def _upside(self, lines: list[np.ndarray]) -> float | None:
        """The direction model's log-odds that these normalised lines are upside down (None:
        no model loaded)."""
        if self.direction is None:
            return None
        return self.direction.upside_down(lines)

    def _lm_sum(self, classes: list[int]) -> float:
        """The language model's log-ratios of a line's characters, each after those before."""
        if self.lm_score is None:
            return 0.0
        return sum(
            self.lm_score(classes[k - 2] if k >= 2 else -1, classes[k - 1], classes[k])
            for k in range(1, len(classes))
        )

    def _decode(self, logp: np.ndarray, beam: int) -> list[DecodedChar]:
        if beam > 1:
            return align(logp, beam_search(logp, beam, lm=self.lm_score))
        return greedy_decode(logp)

    def _place(
        self, d: DecodedChar, left: float, right: float, crop: LineCrop, x0: int, scale: float
    ) -> ReadChar:
        """A decoded character with its frames mapped back to the upload: the box that holds
        its columns across the line's ink height."""
        x, y, width, height = crop.upload_box(
            x0 + left * self.stride / scale, x0 + right * self.stride / scale
        )
        return ReadChar(
            char=self.charset[d.index],
            confidence=d.confidence,
            x=max(0, x),
            width=width,
            y=max(0, y),
            height=height,
        )


def _same_crops(a: list[LineCrop], b: list[LineCrop]) -> bool:
    return len(a) == len(b) and all(
        x.gray.shape == y.gray.shape and np.array_equal(x.gray, y.gray)
        for x, y in zip(a, b, strict=True)
    )


def _reads_little(confidences: list[float], crops: list[LineCrop]) -> bool:
    """`orient.reads_little`, or ink found in lines and read as nothing at all: a blob of
    writing under a glare or across a page on its side can read as no character."""
    return orient.reads_little(confidences) or (not confidences and bool(crops))


def _confidences(reading: orient.Reading) -> list[float]:
    return [c.confidence for line in reading.found for c in line.characters]


def char_edges(decoded: list[DecodedChar], frames: int) -> list[float]:
    """Frame boundaries between characters: CTC marks each with a spike of a frame or two,
    so a character is taken to reach halfway to its neighbours' spikes."""
    centres = [(d.start + d.end) / 2.0 for d in decoded]
    if len(centres) == 1:
        return [0.0, float(frames)]
    inner = [(a + b) / 2.0 for a, b in itertools.pairwise(centres)]
    first = max(0.0, centres[0] - (inner[0] - centres[0]))
    last = min(float(frames), centres[-1] + (centres[-1] - inner[-1]))
    return [first, *inner, last]
