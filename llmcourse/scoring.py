"""Log-probabilities of text under a causal LM, batched: the measurement several pages build on."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def pad_right(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-id rows of different lengths as one right-padded batch: (input_ids, attention_mask)."""
    width = max(len(row) for row in rows)
    input_ids = torch.tensor([list(row) + [pad_id] * (width - len(row)) for row in rows])
    attention_mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
    return input_ids, attention_mask


@torch.no_grad()
def token_logprobs(model, tokenizer, texts: Sequence[str], batch_size: int = 16, prefix: str | None = None,
                   start_id: int | None = None):
    """For each text, a 1-D tensor of log P(token_t | tokens_<t) for its tokens after the first.

    Every row starts with `start_id` (default: the tokenizer's BOS token). With `prefix`, the prefix follows it
    and only the text's own tokens are scored. Padding is on the right and masked, so batching does not change
    the numbers.
    """
    start_id = tokenizer.bos_token_id if start_id is None else start_id
    bos = [start_id] if start_id is not None else []
    results: list[torch.Tensor] = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        ids, skips = [], []
        for text in chunk:
            head = bos + (tokenizer(prefix, add_special_tokens=False)["input_ids"] if prefix else [])
            body = tokenizer(text, add_special_tokens=False)["input_ids"]
            ids.append(head + body)
            skips.append(max(len(head), 1))
        input_ids, attention = pad_right(ids, tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
        logits = model(input_ids=input_ids, attention_mask=attention).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:, None])[..., 0]
        for row, (tokens, skip) in enumerate(zip(ids, skips, strict=True)):
            results.append(logp[row, skip - 1 : len(tokens) - 1].clone())
    return results


def sentence_logprob(model, tokenizer, texts: Sequence[str], batch_size: int = 16, prefix: str | None = None,
                     start_id: int | None = None):
    """Total log-probability of each text (sum of its token log-probabilities), as a 1-D tensor."""
    return torch.stack([lp.sum() for lp in token_logprobs(model, tokenizer, texts, batch_size, prefix, start_id)])
