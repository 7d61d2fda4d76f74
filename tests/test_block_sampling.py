"""Row-block scoring of the autoregressive sampler: ``block_logits`` equals the rows of
``dense_logits`` for every edge score and every decoder context (with per-sample contexts), and
the sampler draws exactly the same edges through blocks as through gathered pair lists."""

from __future__ import annotations

import pytest
import torch

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE
from dyngraphvae.models.forecast import sample_edge_coords
from dyngraphvae.nn.decoders import EdgeDecoder

torch.set_num_threads(1)


@pytest.mark.parametrize("kind", ["inner", "bilinear", "mlp"])
@pytest.mark.parametrize("directed", [True, False])
def test_decoder_blocks_are_dense_rows(kind, directed):
    torch.manual_seed(0)
    dec = EdgeDecoder(4, kind, directed, hidden_dim=8)
    z = torch.randn(3, 11, 4)
    dense = dec.dense_logits(z)
    for a, b in ((0, 4), (4, 11), (7, 8)):
        torch.testing.assert_close(dec.block_logits(z, a, b), dense[:, a:b], rtol=1e-5,
                                   atol=1e-5)


def _graph(directed: bool) -> TemporalGraph:
    g = torch.Generator().manual_seed(1)
    snaps = []
    for _ in range(5):
        e = torch.randint(0, 12, (2, 30), generator=g)
        e = e[:, e[0] != e[1]]
        snaps.append(e)
    return TemporalGraph(snaps, 12, directed=directed, duplicates="merge")


@pytest.mark.parametrize("context", ["previous", "history", "pair_history"])
@pytest.mark.parametrize("directed", [True, False])
def test_context_blocks_are_dense_rows_with_per_sample_contexts(context, directed):
    g = _graph(directed)
    torch.manual_seed(0)
    model = TemporalGraphVAE(ForecasterConfig.for_graph(
        g, latent_dim=3, hidden_dim=8, node_embedding_dim=4, decoder_context=context)).eval()
    with torch.no_grad():
        for p in model.edge_context.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
        fc = model.forecast(g, 2, 3, generator=torch.Generator().manual_seed(2))
        ctx = fc.contexts[1]  # built from each sample's own sampled graph: 3 rows
        assert ctx.edges.batch_size == 3
        scorer = model.edge_scorer(ctx)
        z = fc.z[:, 1]
        dense = scorer.dense_logits(z)
        for a, b in ((0, 5), (5, 12)):
            torch.testing.assert_close(scorer.block_logits(z, a, b), dense[:, a:b],
                                       rtol=1e-5, atol=1e-5)
        # and the pair path (sorted-key lookups, no row blocks) gives the same logits
        n = g.num_nodes
        grid = torch.cartesian_prod(torch.arange(n), torch.arange(n)).t()
        grid = grid[:, grid[0] != grid[1]]
        torch.testing.assert_close(scorer.logits(z, grid), dense[:, grid[0], grid[1]],
                                   rtol=1e-5, atol=1e-5)


class _PairsOnly:
    """The same scorer without ``block_logits``: the sampler gathers pair lists."""

    def __init__(self, scorer):
        self.scorer = scorer

    def logits(self, z, pairs):
        return self.scorer.logits(z, pairs)


@pytest.mark.parametrize("directed", [True, False])
def test_blocks_and_pair_lists_draw_the_same_edges(directed):
    g = _graph(directed)
    torch.manual_seed(0)
    model = TemporalGraphVAE(ForecasterConfig.for_graph(
        g, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
        decoder_context="pair_history")).eval()
    with torch.no_grad():
        model.edge_decoder.bias.fill_(-1.5)
        state = model.filter(g, 4, generator=torch.Generator().manual_seed(3))
        scorer = model.edge_scorer(state.context)
        z = state.z.double().float()
        for block in (1 << 22, 40):  # one block, and blocks of a few rows
            a = sample_edge_coords(scorer, z, directed, False,
                                   torch.Generator().manual_seed(4), max_block=block)
            b = sample_edge_coords(_PairsOnly(scorer), z, directed, False,
                                   torch.Generator().manual_seed(4), max_block=block)
            assert a.size(1) > 0
            assert torch.equal(a, b)
