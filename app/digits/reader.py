"""The /digits pipeline: ink map -> segments -> normalised digits -> one batch -> labels."""

import bisect
import collections
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from app.core.engine import OnnxModel
from app.core.errors import TooManyCharacters
from app.digits import clean, orient
from app.digits.decode import softmax
from app.digits.preprocess import (
    fit_chain,
    normalize_digit,
    normalize_pair,
    second_looks,
    to_model_input,
)
from app.digits.segment import (
    Box,
    Piece,
    Segment,
    digit_ink,
    reading_factor,
    segment_digits,
)
from app.digits.tilt import needs_levelling, page_tilt
from app.lines.ctc import DecodedChar, greedy_decode, log_likelihood
from app.lines.reader import LineReader, char_edges
from app.vision.binarize import MIN_CONTRAST, InkMap, dark_ink, grey_hist, level_of_hist
from app.vision.blocks import smooth_blocks
from app.vision.page import paper_only
from app.vision.scale import shrink
from app.vision.turn import bounds_back, turn

REQUIRED_METADATA = ("labels", "input_size", "mean", "std")
# A blob much shorter than its line's digits is read only when at least this sure (0.5, 0.7 and
# 0.9 measured: a stray fragment kept as a digit costs more than a small digit read unsurely).
STRAY_MARK_CONFIDENCE = 0.9
# A 1 this close to a digit beside it (share of the line's digit height) may be a stroke of
# it: the two are read together (0.15 and 0.35 measured; a cost on joining lost most fixes).
BESIDE_GAP = 0.25
# A stray fragment this close to a digit (share of the line's digit height) may rejoin it.
JOIN_REACH = 0.3
# Pieces of a cut lattice at least this wide (width / height) are also read as a pair.
PAIR_MIN_ASPECT = 0.6
# Extra log-probability a pair reading costs over two single ones: a clean cut is preferred.
# Digits themselves cost nothing beyond their reading: each piece's log-probability already
# makes a needless cut pay, and a cost per digit made chains of touching digits lose their
# narrow ones (a 1 absorbed by its neighbour; measured).
PAIR_COST = 0.3
# A narrow blob read whole at least this surely is not cut into candidates.
SURE_WHOLE = 0.5
# ... and one wider than tall (read whole first up to segment.DEFER_WIDTH) only at least this
# sure, and where the chain reader also reads it as one digit (0.9 and 0.95 measured alike).
SURE_WIDE = 0.9
# Separate marks (specks dropped) allowed per digit of `max_digits` before an image is refused.
MARKS_PER_DIGIT = 4
# A digit read less surely than this is read again from slightly re-posed copies.
UNSURE = 0.6
# LeNet-5 learnt to read marks that are no digit near-flat (outlier exposure): a whole blob
# read no surer than this, touching the image's edge, is a mark the edge cut (a crease's or
# a page's end) and is not read again, where the chain reader would read its stroke as a 1.
NO_DIGIT = 0.2
# A mark alone in a row of its own is no writing where its darkest pixel lies more than this
# share of the way from the page's ink (the darkest pixels of the marks in rows of two or more,
# at least MIN_WRITTEN of them) to its paper: a shade's edge (`without_pale_lone_marks`).
PALE_LONE_MARK = 0.35
MIN_WRITTEN = 3
# Log-probability a chain reading's digit costs where no path of pieces reads that many
# digits (-3 and -6 measured alike: such readings rarely win either way).
UNPLACED_DIGIT = math.log(1e-3)
PieceKey = tuple[int, tuple[int, int]]  # (segment index, (first cut, last cut))
PiecePath = list[tuple[tuple[int, int], bool]]  # a segment's pieces, each flagged if a pair


def _at_edge(box: Box, shape: tuple[int, ...]) -> bool:
    """Whether the box touches the edge of an image of `shape` (H x W ...)."""
    return box.x <= 0 or box.y <= 0 or box.right >= shape[1] or box.bottom >= shape[0]


def _without_edge_marks(
    segments: list[Segment], probs: dict[PieceKey, np.ndarray], at_edge: Callable[[Box], bool]
) -> tuple[list[Segment], dict[PieceKey, np.ndarray]]:
    """`segments` less the whole blobs touching the upload's edge (`at_edge`) that LeNet-5
    reads as no digit (NO_DIGIT), and `probs` (their pieces' readings) keyed anew."""
    gone = {
        n
        for n, seg in enumerate(segments)
        if len(seg.cuts) <= 2 and at_edge(seg.box) and probs[(n, (0, 1))].max() < NO_DIGIT
    }
    if not gone:
        return segments, probs
    kept = [n for n in range(len(segments)) if n not in gone]
    index = {n: i for i, n in enumerate(kept)}
    return [segments[n] for n in kept], {
        (index[n], key): p for (n, key), p in probs.items() if n in index
    }


def is_pair_candidate(piece: Piece, segment: Segment) -> bool:
    """Whether the pair reader sees this piece (training uses the same rule): a piece of a
    cut lattice, wide enough for two digits, in a blob no smaller than a digit."""
    if len(segment.cuts) <= 2 or segment.small:  # a stray mark is not two digits
        return False
    return piece.box.width >= PAIR_MIN_ASPECT * piece.box.height


@dataclass(frozen=True)
class ReadDigit:
    label: str
    confidence: float
    box: Box
    line: int
    alternatives: list[tuple[str, float]]


class DigitReader:
    """Reads every digit in a grayscale image with a LeNet-5 ONNX model."""

    def __init__(
        self,
        model: OnnxModel,
        max_digits: int = 512,
        top_k: int = 3,
        pairs: OnnxModel | None = None,
        chains: OnnxModel | None = None,
        clean_crops: bool = False,
    ) -> None:
        self.model = model
        self.labels: list[str] = list(model.meta_json("labels"))  # type: ignore[arg-type]
        self.input_size = int(model.metadata["input_size"])
        self.mean = float(model.metadata["mean"])
        self.std = float(model.metadata["std"])
        self.max_digits = max_digits
        self.top_k = top_k
        # Optional: reads touching pairs whole where no cut separates them well.
        self.pairs = pairs
        if pairs is not None:
            self.pair_labels: list[str] = list(pairs.meta_json("labels"))  # type: ignore[arg-type]
            self.pair_mean = float(pairs.metadata["mean"])
            self.pair_std = float(pairs.metadata["std"])
        # Optional: reads a blob of touching digits whole (CTC), where cuts fail.
        self.chains = LineReader(chains) if chains is not None else None
        # Whether a clean crop is read in one pass (`app.digits.clean`).
        self.clean_crops = clean_crops

    def classify(self, digits: np.ndarray) -> np.ndarray:
        """N x 32 x 32 normalised digits in [0, 1] -> N x 10 probabilities."""
        if digits.shape[0] == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        return softmax(self.model.run(to_model_input(digits, self.mean, self.std)))

    def classify_pairs(self, pairs: np.ndarray) -> np.ndarray:
        """N x 32 x 48 normalised pairs in [0, 1] -> N x 100 probabilities ('00'..'99')."""
        if self.pairs is None or pairs.shape[0] == 0:
            return np.zeros((pairs.shape[0], 100), np.float32)
        return softmax(self.pairs.run(to_model_input(pairs, self.pair_mean, self.pair_std)))

    def _classify_pieces(
        self, segments: list[Segment], known: dict[PieceKey, np.ndarray] | None = None
    ) -> dict[PieceKey, np.ndarray]:
        """Probabilities of every piece of every segment, in one batch; pieces in `known`
        (the same piece, same key) are not read again."""
        known = known or {}
        keys = [(n, key) for n, seg in enumerate(segments) for key in seg.pieces]
        if len(keys) > self.max_digits:
            raise TooManyCharacters(
                f"The image holds more than {self.max_digits} digit candidates; "
                "send a crop with fewer digits."
            )
        todo = [k for k in keys if k not in known]
        if todo:
            unique, where = distinct_pieces(segments, todo)
            batch = np.stack([normalize_digit(segments[n].pieces[key].ink) for n, key in unique])
            probs = self.classify(batch)
            known = {**known, **{k: probs[w] for k, w in zip(todo, where, strict=True)}}
        return {k: known[k] for k in keys}

    def _read_pairs(self, segments: list[Segment]) -> dict[PieceKey, np.ndarray]:
        """Pair probabilities of every lattice piece wide enough to hold two digits."""
        if self.pairs is None:
            return {}
        keys = [
            (n, key)
            for n, seg in enumerate(segments)
            for key, piece in seg.pieces.items()
            if is_pair_candidate(piece, seg)
        ]
        if not keys:
            return {}
        unique, where = distinct_pieces(segments, keys)
        batch = np.stack([normalize_pair(segments[n].pieces[key].ink) for n, key in unique])
        probs = self.classify_pairs(batch)
        return {k: probs[w] for k, w in zip(keys, where, strict=True)}

    def read(self, gray: np.ndarray) -> list[ReadDigit]:
        """All digits of a grayscale image in reading order (boxes in its pixels); a large
        image with tall digits is read shrunk (`reading_factor`); a photographed page's
        surround is painted paper first. A clean crop is read in one pass (`_read_clean`)."""
        if self.clean_crops:
            found = self._read_clean(gray)
            if found is not None:
                return found
        gray = paper_only(smooth_blocks(gray))
        factor = reading_factor(gray)
        if factor == 1:
            found = self._read_any_way_up(gray)
        else:
            found = self._read_any_way_up(shrink(gray, factor))
            found = [replace(d, box=d.box.scaled(factor)) for d in found]
        return without_pale_lone_marks(found, gray)

    def _read_clean(self, gray: np.ndarray) -> list[ReadDigit] | None:
        """The digits of a clean one-row crop (`app.digits.clean.row_pieces`), where LeNet-5
        reads each as surely as a clean page reads upright (orient.UNSURE_PAGE): then no
        step of the full reading would look again; else None."""
        pieces = clean.row_pieces(gray)
        if pieces is None:
            return None
        probs = self.classify(np.stack([normalize_digit(p.ink) for p in pieces]))
        if float(probs.max(axis=1).min()) < orient.UNSURE_PAGE:
            return None
        return [self._digit(p, piece.box, 0) for p, piece in zip(probs, pieces, strict=True)]

    def _read_any_way_up(self, gray: np.ndarray) -> list[ReadDigit]:
        """`_read`, and where its reading is unsure, read again turned the way up its
        digits read surest (`app.digits.orient`); boxes in `gray`'s pixels."""
        ink = digit_ink(gray)
        segments = self._segments(ink)
        # The voters' ink, taken before reading works on the segments (it may cut them).
        inks = orient.voters(segments)
        found = self._read(gray, ink, segments)
        unsure = orient.looks_unsure([d.confidence for d in found])
        if not unsure or len(inks) < orient.MIN_VOTERS:
            return found
        # 4N x 32 x 32: every voter upright, then turned once, twice and three times.
        turned = [normalize_digit(np.rot90(v, k)) for k in range(4) for v in inks]
        probs = self.classify(np.stack(turned)).reshape(4, len(inks), -1)
        k = orient.best_turn(probs, self.labels)
        if k == 0:
            return found
        turned = self._read(np.ascontiguousarray(np.rot90(gray, k)))
        if k % 2 and not orient.reads_in_rows(_lines(turned), _lines(found)):
            return found
        return [replace(d, box=orient.box_back(d.box, k, gray.shape)) for d in turned]

    def _read(
        self,
        gray: np.ndarray,
        ink: InkMap | None = None,
        segments: list[Segment] | None = None,
    ) -> list[ReadDigit]:
        """`_read_segments` of the image, levelled first where its rows are tilted
        (`app.digits.tilt`); boxes in `gray`'s pixels. `ink` and `segments`: the image's,
        where already found."""
        if ink is None or segments is None:
            ink = digit_ink(gray)
            segments = self._segments(ink)
        tilt = page_tilt([seg.box for seg in segments if not seg.small], ink.mask)
        if not needs_levelling(tilt):
            return self._read_segments(segments, lambda box: _at_edge(box, gray.shape))
        paper = level_of_hist(grey_hist(gray), 0.5)  # paper dominates the page
        level, rot = turn(gray, tilt, border=paper)
        back = cv2.invertAffineTransform(rot)

        def at_edge(box: Box) -> bool:
            # The upload's edge, not the levelled canvas's: its corners are paper put there.
            return _at_edge(Box(*bounds_back(back, *box.corners, gray.shape)), gray.shape)

        found = self._read_segments(self._segments(digit_ink(level)), at_edge)
        return [replace(d, box=Box(*bounds_back(back, *d.box.corners, gray.shape))) for d in found]

    def _segments(self, ink: InkMap) -> list[Segment]:
        # Fragments of one digit are separate marks: room for a few per digit.
        return segment_digits(ink, max_blobs=MARKS_PER_DIGIT * self.max_digits)

    def _read_segments(
        self, segments: list[Segment], at_edge: Callable[[Box], bool]
    ) -> list[ReadDigit]:
        """The digits of `segments` in reading order; `at_edge`: whether a box touches the
        upload's edge."""
        segments, probs = _without_edge_marks(segments, self._classify_pieces(segments), at_edge)
        # A narrow blob read whole without confidence may be a touching pair: cut it too.
        unsure = {
            n
            for n, seg in enumerate(segments)
            if seg.deferred is not None
            and probs[(n, (0, 1))].max() < (SURE_WIDE if seg.wider_than_tall else SURE_WHOLE)
        }
        unsure |= self._cut_anyway(segments, unsure)
        if unsure:
            for n in unsure:
                segments[n].expand()  # its pieces get new keys: none is reused
            kept = {k: v for k, v in probs.items() if k[0] not in unsure}
            probs = self._classify_pieces(segments, known=kept)
        pair_probs = self._read_pairs(segments)
        paths = [self._best_reading(n, seg, probs, pair_probs) for n, seg in enumerate(segments)]
        chains, uncut_readings = self._read_chains(segments, paths, probs, pair_probs)
        paths = [path for path, _ in paths]
        # Second opinions only where they may matter: digits read unsurely.
        rereads = [
            (n, key)
            for n, path in enumerate(paths)
            if n not in chains
            for key, pair in path
            if not pair and probs[(n, key)].max() < UNSURE
        ]
        if rereads:
            inks = [segments[n].pieces[key].ink for n, key in rereads]
            again = self.second_look(
                np.stack([normalize_digit(ink) for ink in inks]),
                np.stack([probs[k] for k in rereads]),
            )
            # Only a digit that stands alone (a blob never cut into candidates) and is no
            # short mark: the chain reader cannot answer "no digit" or "part of a digit", and
            # would read a stray fragment or a piece cut from touching digits surely as one.
            whole = [
                len(segments[n].cuts) <= 2 and not segments[n].is_small(segments[n].pieces[key].box)
                for n, key in rereads
            ]
            if any(whole):
                picked = np.flatnonzero(whole)
                again[picked] = self.chain_opinion(
                    [inks[i] for i in picked],
                    again[picked],
                    [uncut_readings.get(rereads[i][0]) for i in picked],
                )
            probs |= dict(zip(rereads, again, strict=True))
        out: list[ReadDigit] = []
        # Single digits read by LeNet-5 (index in `out`, piece, line height), and the short
        # pieces read unsurely: stray marks, or fragments a digit lost (a 5's detached bar).
        singles: list[tuple[int, Piece, float]] = []
        strays: list[Piece] = []
        for n, (seg, path) in enumerate(zip(segments, paths, strict=True)):
            if n in chains:
                out += chains[n]
                continue
            for key, as_pair in path:
                piece = seg.pieces[key]
                if as_pair:
                    out += self._pair_digits(piece.box, pair_probs[(n, key)], seg.row)
                    continue
                p = probs[(n, key)]
                if seg.is_small(piece.box) and (p.max() < STRAY_MARK_CONFIDENCE or piece.box.dash):
                    strays.append(piece)
                    continue
                singles.append((len(out), piece, seg.ref_height))
                out.append(self._digit(p, piece.box, seg.row))
        if strays and singles:
            self._rejoin_strays(out, singles, strays)
        if len(singles) > 1:
            pieces = {id(out[i]): (piece, ref_h) for i, piece, ref_h in singles}
            out = self._join_stacked(out, singles)
            out = self._join_beside(out, pieces)
        return out

    def _cut_anyway(self, segments: list[Segment], unsure: set[int]) -> set[int]:
        """Deferred blobs wider than tall that LeNet-5 reads whole surely (not in `unsure`)
        but the chain reader reads as other than one digit, in one batch: a 1 touching a 0
        can look like a broad 0 to LeNet-5, and such blobs are cut after all."""
        if self.chains is None:
            return set()
        todo = [
            n
            for n, seg in enumerate(segments)
            if seg.deferred is not None and n not in unsure and seg.wider_than_tall
        ]
        if not todo:
            return set()
        wholes = [fit_chain(segments[n].pieces[(0, 1)].ink)[0] for n in todo]
        logps = self.chains.recognise(wholes)
        return {n for n, logp in zip(todo, logps, strict=True) if len(greedy_decode(logp)) != 1}

    def _digit(self, p: np.ndarray, box: Box, row: int) -> ReadDigit:
        """A digit from its probabilities (10), with the runners-up as alternatives."""
        order = np.argsort(-p)[: self.top_k + 1].tolist()
        conf = p[order].tolist()
        labels = self.labels
        return ReadDigit(
            label=labels[order[0]],
            confidence=conf[0],
            box=box,
            line=row,
            alternatives=[(labels[i], c) for i, c in zip(order[1:], conf[1:], strict=True)],
        )

    def _rejoin_strays(
        self,
        out: list[ReadDigit],
        singles: list[tuple[int, Piece, float]],
        strays: list[Piece],
    ) -> None:
        """Give each stray fragment to its nearest digit when the two read together are surer
        than the digit alone (in one batch); `out` is updated in place. Lines are not compared:
        a short fragment beside a digit's top may have been grouped into a line of its own."""
        # Digits in x order, so each stray looks only at those within reach (bisect).
        order = sorted(range(len(singles)), key=lambda k: singles[k][1].box.x)
        xs = [singles[k][1].box.x for k in order]
        widest = max(singles[k][1].box.width for k in order)
        reach = JOIN_REACH * max(ref_h for _, _, ref_h in singles)
        joins: dict[int, list[Piece]] = {}
        for stray in strays:
            lo = bisect.bisect_left(xs, stray.box.x - reach - widest)
            hi = bisect.bisect_right(xs, stray.box.right + reach)
            near = [
                (_gap(stray.box, singles[k][1].box), k)
                for k in order[lo:hi]
                if _may_join(stray.box, singles[k][1].box, singles[k][2])
            ]
            if near:
                joins.setdefault(min(near)[1], []).append(stray)
        if not joins:
            return
        boxes, probs = self._read_joined([[singles[k][1], *more] for k, more in joins.items()])
        for k, box, p in zip(joins, boxes, probs, strict=True):
            i = singles[k][0]
            if p.max() > out[i].confidence:
                out[i] = self._digit(p, box, out[i].line)

    def _read_joined(self, groups: list[list[Piece]]) -> tuple[list[Box], np.ndarray]:
        """Each group of pieces read as one digit (one batch, second look where unsure):
        the union boxes and N x 10 probabilities."""
        merged = [_merge_ink(group) for group in groups]
        batch = np.stack([normalize_digit(ink) for _, ink in merged])
        return [box for box, _ in merged], self.second_look(batch, self.classify(batch))

    def _join_stacked(
        self, out: list[ReadDigit], singles: list[tuple[int, Piece, float]]
    ) -> list[ReadDigit]:
        """Two digits one right above the other, on lines too short to tell the digit size
        (a lone digit broken at its waist), become one digit where reading them as one is
        likelier than reading them as two."""
        lines: dict[int, int] = {}
        for i, _, _ in singles:
            lines[out[i].line] = lines.get(out[i].line, 0) + 1
        # Boxes in x order: only those sharing columns can be stacked (no all-pairs scan).
        order = sorted(range(len(singles)), key=lambda k: singles[k][1].box.x)
        pairs = []
        for pos, a in enumerate(order):
            box_a = singles[a][1].box
            for b in order[pos + 1 :]:
                box_b = singles[b][1].box
                if box_b.x >= box_a.right:
                    break
                short_line = min(lines[out[singles[a][0]].line], lines[out[singles[b][0]].line]) < 3
                if _stacked(box_a, box_b) and (
                    short_line
                    or box_a.union(box_b).height <= 1.7 * min(singles[a][2], singles[b][2])
                ):
                    pairs.append((a, b))
        if not pairs:
            return out
        drop = self._apply_joins(
            out,
            [(singles[a][0], singles[b][0]) for a, b in pairs],
            [[singles[a][1], singles[b][1]] for a, b in pairs],
            keep=lambda i, j: i if out[i].box.y <= out[j].box.y else j,
        )
        return [d for k, d in enumerate(out) if k not in drop]

    def _join_beside(
        self, out: list[ReadDigit], pieces: dict[int, tuple[Piece, float]]
    ) -> list[ReadDigit]:
        """A stroke read as a 1 right beside a digit of its line (a 4's left tick, a second
        stroke of a 1, what a form's or grid's line left beside a digit) joins it where the
        two read together as one of their own two digits, likelier than as both (`pieces`:
        each single digit's piece and line height, by the digit's id). A 6 and a 1 close
        together may read as a 0: that is no join."""
        order = sorted(
            (k for k in range(len(out)) if id(out[k]) in pieces), key=lambda k: out[k].box.x
        )
        pairs = []
        for i, j in itertools.pairwise(order):
            (piece_i, ref_i), (piece_j, ref_j) = pieces[id(out[i])], pieces[id(out[j])]
            ref = max(ref_i, ref_j)
            union = piece_i.box.union(piece_j.box)
            if (
                out[i].line == out[j].line
                and "1" in (out[i].label, out[j].label)
                and piece_j.box.x - piece_i.box.right <= BESIDE_GAP * ref
                and union.width <= max(ref, union.height)
            ):
                pairs.append((i, j))
        if not pairs:
            return out
        drop = self._apply_joins(
            out,
            pairs,
            [[pieces[id(out[i])][0], pieces[id(out[j])][0]] for i, j in pairs],
            keep=lambda i, _j: i,
            own_digit=True,
        )
        return [d for k, d in enumerate(out) if k not in drop]

    def _apply_joins(
        self,
        out: list[ReadDigit],
        pairs: list[tuple[int, int]],
        groups: list[list[Piece]],
        keep: Callable[[int, int], int],
        own_digit: bool = False,
    ) -> set[int]:
        """Digits i, j of `out` (`pairs`, their pieces in `groups`, read in one batch) become
        one where read together likelier than apart (`own_digit`: and as one of their own
        two digits), in order, each digit joined once: the joined reading replaces digit
        `keep(i, j)` in place; returns the indices of the digits it took in."""
        boxes, probs = self._read_joined(groups)
        drop: set[int] = set()
        for (i, j), box, p in zip(pairs, boxes, probs, strict=True):
            if i in drop or j in drop:
                continue
            if own_digit and self.labels[int(p.argmax())] not in (out[i].label, out[j].label):
                continue
            two = math.log(out[i].confidence) + math.log(out[j].confidence)
            if math.log(max(float(p.max()), 1e-9)) > two:
                k = keep(i, j)
                out[k] = self._digit(p, box, out[k].line)
                drop.add(j if k == i else i)
        return drop

    def _best_reading(
        self,
        n: int,
        seg: Segment,
        probs: dict[PieceKey, np.ndarray],
        pair_probs: dict[PieceKey, np.ndarray],
    ) -> tuple[PiecePath, float]:
        """The most likely path of pieces through segment `n`, each flagged when it is read
        as a pair of digits, and its score (summed log-probability)."""
        scores, as_pair = {}, set()
        for key, piece in seg.pieces.items():
            scores[key] = math.log(max(float(probs[(n, key)].max()), 1e-9)) + piece.prior
            pair = pair_probs.get((n, key))
            if pair is not None:
                # Two digits: the pair's own cost is paid here.
                two = math.log(max(float(pair.max()), 1e-9)) - PAIR_COST
                if two > scores[key]:
                    scores[key] = two
                    as_pair.add(key)
        path = best_path(scores, len(seg.cuts) - 1)
        return [(key, key in as_pair) for key in path], sum(scores[key] for key in path)

    def _read_chains(
        self,
        segments: list[Segment],
        paths: list[tuple[PiecePath, float]],
        probs: dict[PieceKey, np.ndarray],
        pair_probs: dict[PieceKey, np.ndarray],
    ) -> tuple[dict[int, list[ReadDigit]], dict[int, np.ndarray]]:
        """Blobs cut into candidates, and narrow blobs never cut that LeNet-5 reads unsurely
        (two digits overlapping deeply: a 1 over a neighbour's side), read whole by the chain
        reader (one batch); those where its reading wins over the best path of pieces
        (`paths`: path and score; see `_chain_wins`), by segment index; and the chain
        reader's T x C log-probabilities of the uncut blobs, by segment index (read once:
        `chain_opinion` weighs them again). A blob both read as one digit keeps LeNet-5's
        reading, and a stray mark (a short blob) is no chain of digits."""
        chains = self.chains
        if chains is None:
            return {}, {}
        todo = [
            (n, seg.whole)
            for n, seg in enumerate(segments)
            if seg.whole is not None
            and not seg.small
            and (len(seg.cuts) > 2 or probs[(n, (0, 1))].max() < UNSURE)
        ]
        if not todo:
            return {}, {}
        fitted = [fit_chain(whole.ink) for _, whole in todo]
        logps = chains.recognise([line for line, _, _ in fitted])
        out: dict[int, list[ReadDigit]] = {}
        uncut = {
            n: logp for (n, _), logp in zip(todo, logps, strict=True) if len(segments[n].cuts) <= 2
        }
        for (n, whole), (_, x0, scale), logp in zip(todo, fitted, logps, strict=True):
            decoded = greedy_decode(logp)
            path = paths[n][0]
            if not decoded or (len(path) == 1 and not path[0][1] and len(decoded) == 1):
                continue
            chain_text = "".join(chains.charset[d.index] for d in decoded)
            if self._chain_wins(n, segments[n], chain_text, logp, paths[n], probs, pair_probs):
                out[n] = self._chain_digits(
                    chains, decoded, logp, whole.box, x0, scale, segments[n].row
                )
        return out, uncut

    def _chain_wins(
        self,
        n: int,
        seg: Segment,
        chain_text: str,
        logp: np.ndarray,
        best: tuple[PiecePath, float],
        probs: dict[PieceKey, np.ndarray],
        pair_probs: dict[PieceKey, np.ndarray],
    ) -> bool:
        """Whether a blob keeps the chain reader's digits rather than its best path of pieces.
        Where they read the same digits the pieces stay (their boxes are the ink's own).
        Where they disagree, each reading is scored by both readers: the chain reader's
        likelihood of those digits over all its alignments (CTC), plus the best path of
        pieces that reads those digits, equally weighted (weights 0.5-2 measured no better).
        Two readers that err differently outvote one that is wrong but sure: the chain
        reader's own confidence against the path's measured worse."""
        path, path_score = best
        path_text = "".join(
            self.pair_labels[int(pair_probs[(n, key)].argmax())]
            if pair
            else self.labels[int(probs[(n, key)].argmax())]
            for key, pair in path
        )
        if chain_text == path_text:
            return False
        charset = self.chains.charset if self.chains is not None else []

        def both(text: str, lattice: float) -> float:
            return log_likelihood(logp, [charset.index(c) for c in text]) + lattice

        unplaced = UNPLACED_DIGIT * len(chain_text)
        if len(seg.cuts) <= 2:
            # An uncut blob's one piece places one digit of the chain's reading (LeNet-5
            # cannot read two in one piece): only the digits beyond it go unplaced.
            unplaced = path_score + UNPLACED_DIGIT * (len(chain_text) - 1)
        lattice = max(self._lattice_score(n, seg, chain_text, probs, pair_probs), unplaced)
        return both(chain_text, lattice) >= both(path_text, path_score)

    def _lattice_score(
        self,
        n: int,
        seg: Segment,
        text: str,
        probs: dict[PieceKey, np.ndarray],
        pair_probs: dict[PieceKey, np.ndarray],
    ) -> float:
        """Summed log-probability of the best path of pieces through segment `n` that reads
        exactly `text` (-inf where no path has that many digits): best_path with the digits
        given."""
        digit = {label: k for k, label in enumerate(self.labels)}
        pair = {label: k for k, label in enumerate(self.pair_labels)} if self.pairs else {}
        # best[(cut, k)]: the likeliest way from cut 0 to `cut` reading text[:k].
        best: dict[tuple[int, int], float] = {(0, 0): 0.0}
        for (a, b), piece in sorted(seg.pieces.items(), key=lambda item: item[0][1]):
            p, two = probs[(n, (a, b))], pair_probs.get((n, (a, b)))
            for k in range(1, len(text) + 1):
                options = []
                if (a, k - 1) in best:
                    one = math.log(max(float(p[digit[text[k - 1]]]), 1e-9)) + piece.prior
                    options.append(best[(a, k - 1)] + one)
                if two is not None and k >= 2 and (a, k - 2) in best:
                    as_pair = math.log(max(float(two[pair[text[k - 2 : k]]]), 1e-9))
                    options.append(best[(a, k - 2)] + as_pair - PAIR_COST)
                if options and max(options) > best.get((b, k), -math.inf):
                    best[(b, k)] = max(options)
        return best.get((len(seg.cuts) - 1, len(text)), -math.inf)

    def _chain_digits(
        self,
        chains: LineReader,
        decoded: list[DecodedChar],
        logp: np.ndarray,
        box: Box,
        x0: int,
        scale: float,
        row: int,
    ) -> list[ReadDigit]:
        """A blob's chain reading as digits, each with the columns CTC aligned to it (`x0`,
        `scale`: where the normalised blob lies in `box`) and alternatives from the mean
        posterior of its frames."""
        digits = []
        edges = char_edges(decoded, len(logp))
        for d, (left, right) in zip(decoded, itertools.pairwise(edges), strict=True):
            x = max(box.x, round(box.x + x0 + left * chains.stride / scale))
            x_right = min(box.right, round(box.x + x0 + right * chains.stride / scale))
            post = np.exp(logp[d.start : d.end]).mean(axis=0)
            order = [int(i) for i in np.argsort(-post) if i not in (d.index, 0)]
            digits.append(
                ReadDigit(
                    label=chains.charset[d.index],
                    confidence=d.confidence,
                    box=Box(x, box.y, max(1, x_right - x), box.height),
                    line=row,
                    alternatives=[(chains.charset[i], float(post[i])) for i in order[: self.top_k]],
                )
            )
        return digits

    def second_look(self, digits: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """N x 32 x 32 digits and their first readings (N x 10) -> the readings, where each
        digit read less surely than UNSURE is read again: the geometric mean of its first
        reading and the readings of slightly re-posed copies (`second_looks`)."""
        out = probs.copy()
        unsure = np.nonzero(probs.max(axis=1) < UNSURE)[0]
        if unsure.size == 0:
            return out
        looks = self.classify(np.concatenate([second_looks(digits[i]) for i in unsure]))
        looks = looks.reshape(unsure.size, -1, looks.shape[-1])  # N x K x 10
        logs = np.log(np.maximum(looks, 1e-9)).sum(axis=1)
        logs += np.log(np.maximum(probs[unsure], 1e-9))
        out[unsure] = softmax(logs / (looks.shape[1] + 1))
        return out

    def chain_opinion(
        self,
        inks: list[np.ndarray],
        probs: np.ndarray,
        readings: list[np.ndarray | None] | None = None,
    ) -> np.ndarray:
        """Digits read unsurely (their inks and N x 10 readings; `readings`: the chain
        reader's log-probabilities of those inks where already made) -> the readings joined with
        the chain reader's: its likelihood of each digit alone (CTC over all alignments),
        weighted equally with LeNet-5's (0.25-1 measured alike). The two readers, trained
        apart, misread different digits: on the 10,000 t10k digits (each alone, normalised
        as the service does), LeNet-5 misreads 33, the chain reader 48; of LeNet-5's 155 unsure
        digits, LeNet-5 misreads 15, the two together 14 (with the LeNet-5 before, trained
        half as long: 24 of 167, together 14)."""
        if self.chains is None or not inks:
            return probs
        charset = self.chains.charset
        digits = [[charset.index(label)] for label in self.labels]
        logps = list(readings) if readings is not None else [None] * len(inks)
        todo = [i for i, logp in enumerate(logps) if logp is None]
        fresh = self.chains.recognise([fit_chain(inks[i])[0] for i in todo])
        for i, logp in zip(todo, fresh, strict=True):
            logps[i] = logp
        chain = np.array([[log_likelihood(logp, d) for d in digits] for logp in logps])
        chain = np.maximum(chain, -1e4)  # no frames at all: -inf for every digit
        return softmax(np.log(np.maximum(probs, 1e-9)) + chain)

    def _pair_digits(self, box: Box, pair: np.ndarray, row: int) -> list[ReadDigit]:
        """Two digits read as one pair: each gets the pair's confidence, half the box, and
        alternatives from its marginal probabilities."""
        best = self.pair_labels[int(pair.argmax())]
        grid = pair.reshape(10, 10)  # [first digit, second digit]
        half = box.width // 2
        out = []
        for pos, marginal in enumerate((grid.sum(axis=1), grid.sum(axis=0))):
            order = np.argsort(-marginal)
            alts = [
                (self.labels[d], float(marginal[d])) for d in order if self.labels[d] != best[pos]
            ]
            x = box.x + pos * half
            width = half if pos == 0 else box.width - half
            out.append(
                ReadDigit(
                    label=best[pos],
                    confidence=float(pair.max()),
                    box=Box(x, box.y, max(1, width), box.height),
                    line=row,
                    alternatives=alts[: self.top_k],
                )
            )
        return out


def _gap(a: Box, b: Box) -> float:
    """Distance between two boxes (0 where they overlap)."""
    dx = max(a.x, b.x) - min(a.right, b.right)
    dy = max(a.y, b.y) - min(a.bottom, b.bottom)
    return math.hypot(max(dx, 0), max(dy, 0))


def _may_join(stray: Box, digit: Box, ref_h: float) -> bool:
    """A fragment close enough to a digit, and small enough, to have been part of it."""
    union = stray.union(digit)
    return (
        _gap(stray, digit) <= JOIN_REACH * ref_h
        and union.height <= 1.7 * ref_h
        and union.width <= 1.2 * max(ref_h, union.height)
    )


def _stacked(a: Box, b: Box) -> bool:
    """One box right above the other, close, sharing most of the narrower one's columns."""
    overlap_x = min(a.right, b.right) - max(a.x, b.x)
    gap_y = max(a.y, b.y) - min(a.bottom, b.bottom)
    return overlap_x >= 0.4 * min(a.width, b.width) and -0.4 * min(
        a.height, b.height
    ) <= gap_y <= 0.35 * max(a.height, b.height)


def _merge_ink(pieces: list[Piece]) -> tuple[Box, np.ndarray]:
    """Pieces' ink pasted together over the union of their boxes."""
    box = pieces[0].box
    for piece in pieces[1:]:
        box = box.union(piece.box)
    ink = np.zeros((box.height, box.width), np.float32)
    for piece in pieces:
        b = piece.box
        region = ink[b.y - box.y : b.bottom - box.y, b.x - box.x : b.right - box.x]
        np.maximum(region, piece.ink, out=region)
    return box, ink


def distinct_pieces(
    segments: list[Segment], keys: list[PieceKey]
) -> tuple[list[PieceKey], list[int]]:
    """The first key of each distinct piece among `keys`, and for each key the index of its
    distinct piece: neighbouring cuts often enclose the same ink, which is read only once."""
    first: dict[tuple[object, ...], int] = {}
    unique: list[PieceKey] = []
    where = []
    for n, key in keys:
        piece = segments[n].pieces[key]
        sign = (n, piece.box, piece.ink.shape, float(piece.ink.sum()))
        if sign not in first:
            first[sign] = len(unique)
            unique.append((n, key))
        where.append(first[sign])
    return unique, where


def best_path(scores: dict[tuple[int, int], float], last: int) -> list[tuple[int, int]]:
    """Most likely way through a cut lattice: pieces (i, j) from cut 0 to cut `last`,
    maximising the summed log-probability (dynamic programming)."""
    best = [-math.inf] * (last + 1)
    back: list[tuple[int, int] | None] = [None] * (last + 1)
    best[0] = 0.0
    for j in range(1, last + 1):
        for (a, b), score in scores.items():
            if b == j and best[a] > -math.inf and best[a] + score > best[j]:
                best[j], back[j] = best[a] + score, (a, b)
    path: list[tuple[int, int]] = []
    j = last
    while j > 0 and back[j] is not None:
        path.append(back[j])  # type: ignore[arg-type]
        j = back[j][0]  # type: ignore[index]
    return path[::-1]


def without_pale_lone_marks(found: list[ReadDigit], gray: np.ndarray) -> list[ReadDigit]:
    """`found` less each mark that stands alone in a row of its own and whose darkest pixel
    (in `gray`, the image its boxes are in) lies more than PALE_LONE_MARK of the way from the
    page's ink (the median of the darkest pixels of the marks in rows of two or more) to its
    paper: the edge of a shadow that flattening the light left behind, read as a 1 or a 0,
    not writing, which is as dark as the rest of the page's (a pencil's, too). Rows are
    numbered anew."""
    per_line = collections.Counter(d.line for d in found)
    if 1 not in per_line.values():
        return found
    dark = dark_ink(gray)

    def core(d: ReadDigit) -> int:
        # The box may hold a neighbour's stroke too: then the mark is kept, as it should be.
        return int(dark[d.box.y : d.box.bottom, d.box.x : d.box.right].min())

    written = [core(d) for d in found if per_line[d.line] > 1]
    if len(written) < MIN_WRITTEN:
        return found
    ink = float(np.median(written))
    paper = float(level_of_hist(grey_hist(dark), 0.5))
    if paper - ink < MIN_CONTRAST:
        return found
    pale = {
        d.line
        for d in found
        if per_line[d.line] == 1 and core(d) - ink > PALE_LONE_MARK * (paper - ink)
    }
    if not pale:
        return found
    rows = {line: n for n, line in enumerate(sorted(set(per_line) - pale))}
    return [replace(d, line=rows[d.line]) for d in found if d.line not in pale]


def _lines(digits: list[ReadDigit]) -> int:
    return max((d.line for d in digits), default=-1) + 1


def digits_text(digits: list[ReadDigit]) -> str:
    """Digits joined per line, lines joined with newlines."""
    lines: dict[int, list[str]] = {}
    for d in digits:
        lines.setdefault(d.line, []).append(d.label)
    return "\n".join("".join(lines[r]) for r in sorted(lines))
