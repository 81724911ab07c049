"""The checks of notebook 01 accept the right answers and name the plausible wrong ones."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers.checks import ch01_translate as checks
from helpers.checks.core import WrongAnswer
from helpers.translate import tokenize, translate


def test_the_checks_accept_the_library():
    checks.check_tokenize(tokenize)
    checks.check_translate_word_by_word(translate)
    checks.check_translate_marking_unknown(lambda sentence, dictionary: translate(sentence, dictionary, unknown="mark"))


def test_notebook_01s_checks_do_not_import_torch():
    code = "import sys, helpers.checks.ch01_translate; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"



def test_check_tokenize_catches_split_on_one_space_and_no_lowercase():
    checks.check_tokenize(lambda text: text.lower().split())
    with pytest.raises(WrongAnswer, match="any run of white space"):
        checks.check_tokenize(lambda text: text.lower().split(" "))
    with pytest.raises(WrongAnswer, match="lower-case"):
        checks.check_tokenize(lambda text: text.split())


def test_check_translate_word_by_word_catches_trailing_space_and_global_dictionary():
    def trailing(sentence, dictionary):
        return "".join(dictionary[t] + " " for t in sentence.lower().split())

    def global_dictionary(sentence, dictionary):
        return " ".join(checks.SEED_DICTIONARY[t] for t in sentence.lower().split())

    def swallows_unknown(sentence, dictionary):
        return " ".join(dictionary.get(t, t) for t in sentence.lower().split())

    for wrong, hint in [(trailing, "one space between"), (global_dictionary, "the dictionary you are given"),
                        (swallows_unknown, "should raise KeyError")]:
        with pytest.raises(WrongAnswer, match=hint):
            checks.check_translate_word_by_word(wrong)


def test_check_translate_marking_unknown_catches_wrong_brackets_and_no_tokenize():
    def parens(sentence, dictionary):
        return " ".join(dictionary.get(t, f"({t})") for t in sentence.lower().split())

    def no_lower(sentence, dictionary):
        return " ".join(dictionary.get(t, f"[{t}]") for t in sentence.split())

    for wrong in (parens, no_lower):
        with pytest.raises(WrongAnswer):
            checks.check_translate_marking_unknown(wrong)


def test_an_answer_that_is_the_librarys_tokenize_passes_with_a_note(capsys):
    from helpers.checks.ch01_translate import check_tokenize
    from helpers.translate import tokenize

    def my_tokenize(text):
        return tokenize(text)

    check_tokenize(my_tokenize)
    out = capsys.readouterr().out
    assert "✅ Exercise 1.1" in out and "calls helpers.translate.tokenize, which this exercise re-creates" in out
