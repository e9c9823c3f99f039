"""Every metric against an independent implementation (jiwer, sklearn, sacrebleu, a numpy
closed form) on random and adversarial inputs: ties, empty hypotheses, words never seen,
unequal lengths. Plus hand-computed cases and the French normaliser's documented ones."""
import random

import jiwer
import numpy as np
import pytest
import sacrebleu
from sklearn.metrics import balanced_accuracy_score, roc_curve

from lebench.downstream.metrics import (
    METRICS,
    accuracy,
    bleu,
    bleu_signature,
    ccc,
    char_error_rate,
    equal_error_rate,
    min_dcf,
    rmse,
    unweighted_average_recall,
    word_error_rate,
)
from lebench.manifests.text import from_letters, letters, normalise

WORDS = ["le", "chat", "dort", "près", "du", "feu", "l'homme", "aujourd'hui", "été", "œuf",
         "Paris", "quatorze", "21", "peut-être", "ça", "n'est-ce", "pas", "Ü", "ǅ", "naïve"]


def sentences(rng: random.Random, n: int, empty: float = 0.15) -> list[str]:
    """Random French-ish lines: punctuation, digits, case, and some empty ones."""
    out = []
    for _ in range(n):
        if rng.random() < empty:
            out.append(rng.choice(["", "  ", "?!"]))
            continue
        words = [rng.choice(WORDS + [f"mot{rng.randrange(50)}"]) for _ in range(rng.randrange(1, 9))]
        out.append(" ".join(words).capitalize() + rng.choice([".", " ?", "", " !"]))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_wer_and_cer_equal_jiwer_on_normalised_text(seed):
    rng = random.Random(seed)
    refs = sentences(rng, 40, empty=0.0)
    hyps = sentences(rng, 40)  # empty hypotheses, unseen words, other lengths
    hyps[:5] = refs[:5]
    norm_refs, norm_hyps = [normalise(r) for r in refs], [normalise(h) for h in hyps]
    assert word_error_rate(refs, hyps) == pytest.approx(jiwer.wer(norm_refs, norm_hyps), abs=1e-12)
    assert char_error_rate(refs, hyps) == pytest.approx(jiwer.cer(norm_refs, norm_hyps), abs=1e-12)


def test_wer_and_cer_by_hand_and_normalisation():
    # one substitution and one deletion over 3 + 2 reference words
    assert word_error_rate(["le chat dort", "il pleut"], ["le chien dort", "il"]) == pytest.approx(2 / 5)
    # case, punctuation and typographic apostrophes are not errors
    assert word_error_rate(["L’homme, dit-il."], ["l'homme dit il"]) == 0
    assert char_error_rate(["le chat"], ["le chien"]) == pytest.approx(3 / 7)
    assert word_error_rate(["il a 21 ans"], ["il a vingt et un ans"]) == 0
    # an empty hypothesis deletes everything; a reference word never seen in training is a
    # word like any other (the reference is the raw text, not a vocabulary's rendering)
    assert word_error_rate(["un zèbre xylophoniste"], [""]) == 1.0
    assert char_error_rate(["ÿ"], ["y"]) == 1.0
    assert np.isnan(word_error_rate([""], ["quelque chose"]))  # no reference word: undefined


def test_normaliser_cases():
    assert normalise("L’Homme est né en 1987, n'est-ce pas ?") == \
        "l'homme est né en mille neuf cent quatre vingt sept n'est ce pas"
    assert normalise("le 3e étage, 2,5 kg") == "le troisième étage deux virgule cinq kg"
    assert normalise("« Cœur » 10 000") == "coeur dix mille"
    assert letters("Qu'il parte.") == "q u ' i l | p a r t e |"
    assert from_letters(letters("Qu'il parte.").split()) == "qu'il parte"


@pytest.mark.parametrize("seed", range(6))
def test_accuracy_and_uar_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    classes = ["neutre", "colère", "joie", "peur"]
    ref = list(rng.choice(classes[: 2 + seed % 3], size=57, p=None))
    hyp = list(rng.choice(classes, size=57))  # also classes the references never have
    assert accuracy(ref, hyp) == pytest.approx(np.mean(np.array(ref) == np.array(hyp)))
    with pytest.warns(UserWarning) if set(hyp) - set(ref) else _no_warning():
        expected = balanced_accuracy_score(ref, hyp)
    assert unweighted_average_recall(ref, hyp) == pytest.approx(expected, abs=1e-12)


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_accuracy_and_uar_by_hand():
    ref = np.array([0, 0, 0, 0, 1, 1])
    hyp = np.array([0, 0, 0, 0, 0, 1])
    assert accuracy(ref, hyp) == pytest.approx(5 / 6)
    assert unweighted_average_recall(ref, hyp) == pytest.approx((1.0 + 0.5) / 2)


def reference_detection(labels, scores, p_target=0.01):
    """EER and minDCF from sklearn's ROC curve, one point per distinct score (ties grouped),
    the EER interpolated linearly where the miss and false-alarm rates cross."""
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    fnr = 1 - tpr
    i = int(np.argmax(fnr <= fpr))
    before, after = fnr[i - 1] - fpr[i - 1], fnr[i] - fpr[i]  # > 0, then <= 0
    t = before / (before - after)
    eer = fnr[i - 1] + t * (fnr[i] - fnr[i - 1])
    cost = p_target * fnr + (1 - p_target) * fpr
    return eer, cost.min() / min(p_target, 1 - p_target)


@pytest.mark.parametrize("seed", range(8))
def test_eer_and_min_dcf_equal_a_sweep_over_sklearn_roc_curve(seed):
    rng = np.random.default_rng(seed)
    n = 300
    labels = rng.random(n) < 0.3
    scores = rng.normal(labels * 1.0, 1.0)
    if seed % 2:  # many ties: scores on a coarse grid
        scores = np.round(scores * 2) / 2
    eer, dcf = reference_detection(labels, scores)
    assert equal_error_rate(labels, scores) == pytest.approx(eer, abs=1e-12)
    assert min_dcf(labels, scores) == pytest.approx(dcf, abs=1e-12)


def test_tied_scores_do_not_depend_on_trial_order():
    labels = np.array([1, 0] * 50)
    tied = np.zeros(100)
    assert equal_error_rate(labels, tied) == 0.5
    assert equal_error_rate(labels[::-1], tied) == 0.5
    assert min_dcf(labels, tied) == min_dcf(labels[::-1], tied) == 1.0
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(labels, 1.0))  # few distinct values
    order = rng.permutation(100)
    assert equal_error_rate(labels, scores) == equal_error_rate(labels[order], scores[order])
    assert min_dcf(labels, scores) == min_dcf(labels[order], scores[order])


def test_eer_and_min_dcf_by_hand():
    assert equal_error_rate([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 0.0
    # targets 0.9, 0.7; non-targets 0.8, 0.1: at a threshold in (0.7, 0.8) one miss of two
    # and one false alarm of two
    assert equal_error_rate([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.5)
    # best cost at p_target 0.01: accept only 0.9 -> miss 1/2, no false alarm: 0.005 / 0.01
    assert min_dcf([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.5)
    assert min_dcf([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 0.0
    # 10 targets scoring below all 90 non-targets: everything wrong, EER 1
    assert equal_error_rate([1] * 10 + [0] * 90, list(range(100))) == pytest.approx(1.0)
    assert np.isnan(equal_error_rate([1, 1], [0.3, 0.4]))  # no non-target: undefined


@pytest.mark.parametrize("seed", range(5))
def test_ccc_and_rmse_equal_the_numpy_closed_form(seed):
    rng = np.random.default_rng(seed)
    refs = [rng.normal(0.2, 0.5, rng.integers(1, 60)) for _ in range(12)]
    hyps = [r * rng.uniform(0, 1.5) + rng.normal(0, 0.3, len(r)) + 1000 * (seed == 4) for r in refs]
    if seed == 4:  # a large common offset: the moments must not lose their precision
        refs = [r + 1000 for r in refs]
    x, y = np.concatenate(refs), np.concatenate(hyps)
    closed = 2 * np.cov(x, y, bias=True)[0, 1] / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)
    assert ccc(refs, hyps) == pytest.approx(closed, abs=1e-9)
    assert rmse(refs, hyps) == pytest.approx(np.sqrt(np.mean((x - y) ** 2)), abs=1e-9)


def test_ccc_and_rmse_by_hand():
    x = [np.array([1.0, 2.0, 3.0])]
    assert ccc(x, x) == pytest.approx(1.0)
    assert ccc(x, [np.array([2.0, 3.0, 4.0])]) == pytest.approx(4 / 7)  # (4/3) / (7/3)
    assert ccc(x, [np.array([3.0, 2.0, 1.0])]) == pytest.approx(-1.0)
    assert rmse(x, [np.array([2.0, 3.0, 4.0])]) == pytest.approx(1.0)
    # utterances are concatenated, not averaged
    assert ccc([np.array([1.0]), np.array([2.0, 3.0])], [np.array([1.0]), np.array([2.0, 3.0])]) == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_bleu_equals_sacrebleu_on_raw_strings(seed):
    rng = random.Random(seed)
    english = ["The", "cat", "sat", "on", "the", "mat", "today", "it's", "raining", "again",
               "\"quoted\"", "naïve", "café", "well-known", "5", "o'clock"]
    refs = [" ".join(rng.choice(english) for _ in range(rng.randrange(3, 14))) + rng.choice([".", "?", "!"])
            for _ in range(30)]
    hyps = [" ".join(rng.choice(english) for _ in range(rng.randrange(0, 9))) for _ in range(30)]
    hyps[:6] = refs[:6]  # some exact, most shorter or longer than their reference
    expected = sacrebleu.corpus_bleu(hyps, [refs]).score
    assert bleu(refs, hyps) * 100 == pytest.approx(expected, abs=1e-9)
    # the order of the arguments matters (hypotheses and references are not symmetric)
    assert bleu(hyps, refs) * 100 != pytest.approx(expected, abs=1e-3)
    assert bleu_signature().startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")


def test_concept_error_rates_count_concepts_and_their_values():
    ref = "je veux <nombre> deux chambres > à <ville> Paris > <date> le 3 mai >"
    # one concept substituted (value kept), one value wrong, one concept missing
    hyp = "je veux <prix> deux chambres > à <ville> lyon >"
    assert METRICS["concept_er"]([ref], [hyp]) == pytest.approx(2 / 3)
    assert METRICS["cver"]([ref], [hyp]) == pytest.approx(3 / 3)
    assert METRICS["concept_er"]([ref], [ref]) == 0.0
    # references are raw annotations: case, numbers and punctuation of the words do not count
    assert METRICS["cver"]([ref], ["je veux <nombre> deux chambres > à <ville> paris > <date> le trois mai >"]) == 0
    # unclosed concepts end with the sentence, stray closers are ignored: any output scores
    assert METRICS["concept_er"]([ref], ["> <nombre> deux chambres <ville> paris <date> le"]) == 0.0
    # the WER of the words, tags removed; a reference word never seen in training is scored
    assert METRICS["slu_wer"](["<lieu> à Zanzibar >"], ["<lieu> à >"]) == pytest.approx(1 / 2)


def test_attachment_scores_align_recognised_words_first():
    ref = "le/2/det chat/3/nsubj dort/0/root près/6/case du/6/case feu/3/obl"
    # "chat" misrecognised as "chien" (substitution keeps its attachments), "près" deleted,
    # "feu" attached to "chien" instead of "dort"
    hyp = "le/2/det chien/3/nsubj dort/0/root du/5/case feu/2/obj"
    assert METRICS["uas"]([ref], [ref]) == METRICS["las"]([ref], [ref]) == 1.0
    assert METRICS["uas"]([ref], [hyp]) == pytest.approx(4 / 6)
    assert METRICS["las"]([ref], [hyp]) == pytest.approx(4 / 6)
    assert METRICS["uas"]([ref], ["le/_/det chat/9/nsubj dort/_/_"]) == 0.0  # unknown heads: none right
    assert METRICS["uas"]([ref], [""]) == 0.0  # an empty output is a parse with no word
    assert METRICS["tree_wer"]([ref], ["le/2/det chat/0/root"]) == pytest.approx(4 / 6)
