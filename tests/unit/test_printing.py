from llmcourse.printing import WIDTH, say


def test_say_wraps_each_line_to_the_width_and_keeps_short_lines(capsys):
    long = "accuracy 0.8941 " * 12
    say(f"header\n  {long}\n\nend")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "header" and lines[-1] == "end" and "" in lines
    body = [line for line in lines[1:-1] if line]
    assert len(body) > 1 and all(len(line) <= WIDTH for line in body)
    assert body[0].startswith("  accuracy") and all(line.startswith("    ") for line in body[1:])
    assert " ".join(line.strip() for line in body) == long.strip()


def test_say_indents_model_output_without_a_hang(capsys):
    say("word " * 40, indent="  ", hang="")
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith("  w") and len(line) <= WIDTH for line in lines)
