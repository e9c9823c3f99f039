"""Metrics against values computed by hand, and the French normaliser on its documented cases."""
import numpy as np
import pytest

from downstream.metrics import (METRICS, accuracy, bootstrap_interval, ccc, char_error_rate,
                                equal_error_rate, min_dcf, rmse, unweighted_average_recall,
                                word_error_rate)
from downstream.text import from_letters, letters, normalise


def test_accuracy_and_uar_by_hand():
    ref = np.array([0, 0, 0, 0, 1, 1])
    hyp = np.array([0, 0, 0, 0, 0, 1])
    assert accuracy(ref, hyp) == pytest.approx(5 / 6)
    assert unweighted_average_recall(ref, hyp) == pytest.approx((1.0 + 0.5) / 2)


def test_bootstrap_interval_brackets_the_value_and_collapses_when_perfect():
    ref = np.array([0, 1] * 50)
    hyp = ref.copy()
    hyp[:20] = 1 - hyp[:20]
    lo, hi = bootstrap_interval(accuracy, ref, hyp)
    assert lo < 0.8 < hi and hi - lo < 0.2
    assert bootstrap_interval(accuracy, ref, ref) == (1.0, 1.0)


def test_wer_and_cer_on_known_strings():
    # one substitution and one deletion over 3 + 2 reference words
    assert word_error_rate(["le chat dort", "il pleut"], ["le chien dort", "il"]) == pytest.approx(2 / 5)
    # case, punctuation and typographic apostrophes are not errors
    assert word_error_rate(["L’homme, dit-il."], ["l'homme dit il"]) == 0
    # "chat" -> "chien": 1 substitution + 2 insertions... by edit distance: chat/chien = 3
    assert char_error_rate(["le chat"], ["le chien"]) == pytest.approx(3 / 7)
    assert word_error_rate(["il a 21 ans"], ["il a vingt et un ans"]) == 0


def test_normaliser_cases():
    assert normalise("L’Homme est né en 1987, n'est-ce pas ?") == \
        "l'homme est né en mille neuf cent quatre vingt sept n'est ce pas"
    assert normalise("le 3e étage, 2,5 kg") == "le troisième étage deux virgule cinq kg"
    assert normalise("« Cœur » 10 000") == "coeur dix mille"
    assert letters("Qu'il parte.") == "q u ' i l | p a r t e |"
    assert from_letters(letters("Qu'il parte.").split()) == "qu'il parte"


def test_ccc_and_rmse_on_known_arrays():
    x = [np.array([1.0, 2.0, 3.0])]
    assert ccc(x, x) == pytest.approx(1.0)
    # shifted by one: 2 cov / (var x + var y + 1) = (4/3) / (7/3)
    assert ccc(x, [np.array([2.0, 3.0, 4.0])]) == pytest.approx(4 / 7)
    assert ccc(x, [np.array([3.0, 2.0, 1.0])]) == pytest.approx(-1.0)
    assert rmse(x, [np.array([2.0, 3.0, 4.0])]) == pytest.approx(1.0)
    # utterances are concatenated, not averaged
    assert ccc([np.array([1.0]), np.array([2.0, 3.0])], [np.array([1.0]), np.array([2.0, 3.0])]) == 1.0


def test_eer_and_min_dcf_on_known_scores():
    assert equal_error_rate([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 0.0
    # targets 0.9, 0.7; non-targets 0.8, 0.1: at a threshold in (0.7, 0.8) one miss of two
    # and one false alarm of two
    assert equal_error_rate([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.5)
    # best cost at p_target 0.01: accept only 0.9 -> miss 1/2, no false alarm: 0.005 / 0.01
    assert min_dcf([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.5)
    assert min_dcf([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 0.0
    # 100 trials, 10 targets scoring below all non-targets: everything wrong, EER 1
    labels = [1] * 10 + [0] * 90
    scores = list(range(100))
    assert equal_error_rate(labels, scores) == pytest.approx(1.0)


def test_concept_error_rates_count_concepts_and_their_values():
    from downstream.slu import target_tokens
    ref = " ".join(target_tokens("je veux <nombre> deux chambres > à <ville> Paris > <date> le 3 mai >"))
    # one concept substituted (value kept), one value wrong, one concept missing
    hyp = " ".join(target_tokens("je veux <prix> deux chambres > à <ville> Lyon >"))
    assert METRICS["concept_er"][0]([ref], [hyp]) == pytest.approx(2 / 3)
    assert METRICS["cver"][0]([ref], [hyp]) == pytest.approx(3 / 3)
    assert METRICS["concept_er"][0]([ref], [ref]) == 0.0
    # unclosed concepts end with the sentence, stray closers are ignored: any output scores
    assert METRICS["concept_er"][0]([ref], ["> <nombre> deux chambres <ville> paris <date> le"]) == 0.0


def test_attachment_scores_align_recognised_words_first():
    from downstream.parsing import linearise, read_tree
    ref = " ".join(linearise(read_tree("le/2/det chat/3/nsubj dort/0/root près/6/case du/6/case feu/3/obl")))
    perfect = ref
    # "chat" misrecognised as "chien" (substitution keeps its attachments), "près" deleted,
    # "feu" attached to "chien" instead of "dort"
    hyp = " ".join(linearise(read_tree("le/2/det chien/3/nsubj dort/0/root du/5/case feu/2/obj")))
    assert METRICS["uas"][0]([ref], [perfect]) == METRICS["las"][0]([ref], [perfect]) == 1.0
    assert METRICS["uas"][0]([ref], [hyp]) == pytest.approx(4 / 6)
    assert METRICS["las"][0]([ref], [hyp]) == pytest.approx(4 / 6)
    assert METRICS["uas"][0]([ref], ["le #det chat @+9 dort"]) == 0.0  # malformed: nothing right


def test_bleu_is_sacrebleu_corpus_bleu_with_its_signature():
    import sacrebleu
    from downstream.metrics import bleu_signature
    refs = ["The cat sits on the mat.", "It rains today."]
    hyps = ["The cat sat on the mat.", "It rains today."]
    assert METRICS["bleu"][0](refs, hyps) * 100 == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert bleu_signature().startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
