"""The networks as the authors' guided-diffusion fork builds them
(CAIROLab-Bern/Mechanistic-Learning-Brain-Tumor-Growth,
src_guided_diffusion/guided_diffusion/unet.py, with the models made by its
utils/script_util.py), 2-D float32, written from that code's behaviour.

Where the fork agrees with stock guided-diffusion (ResBlock, AttentionBlock,
AttentionPool2d, Downsample/Upsample, timestep embedding: identical), the
blocks of gd_nets.py are reused. What the fork changes:

- UNetModel and EncoderUNetModel: the first conv always outputs
  `model_channels` channels and the U-Net's last conv always reads
  `model_channels` (stock guided-diffusion uses `channel_mult[0] *
  model_channels`; the same network when channel_mult[0] == 1, as in every
  configuration the fork's script_util creates); channel counts are
  `mult * model_channels` without int().
- EncoderUNetModel gets a `regression` flag. With pool="attention" and
  regression=True the head is `out = [GroupNorm, AttentionPool2d]` (no SiLU:
  parameters out.0.*, out.1.*); with regression=False it is stock's
  `[GroupNorm, SiLU, AttentionPool2d]` (out.0.*, out.2.*). The adaptive pool
  is unchanged. (The fork's "spatial" pools are not used by its regressor
  configs and are not reproduced.)
- script_util's create_regressor always passes regression=True,
  out_channels=1, num_head_channels=64; create_model always makes
  out_channels = 2 * in_channels (8 for the four BraTS channels).

Checkpoints: both training scripts save `torch.save(state_dict)` where the
state dict is `model.state_dict()` with every parameter entry replaced by the
(float32) master parameter itself, so the pickled values are nn.Parameter
objects; see `save_like_authors`.
"""
import torch as th
import torch.nn as nn

import gd_nets as G


def _level_blocks(model_channels, channel_mult, num_res_blocks, attention_resolutions, dropout, conv_resample,
                  num_heads, num_head_channels, use_scale_shift_norm, resblock_updown, use_new_attention_order,
                  time_embed_dim, in_channels):
    """The fork's input_blocks; returns (blocks, channels after each block, final channels, final ds)."""
    blocks = nn.ModuleList([G.TimestepEmbedSequential(nn.Conv2d(in_channels, model_channels, 3, padding=1))])
    chans = [model_channels]
    ch, ds = model_channels, 1
    for level, mult in enumerate(channel_mult):
        for _ in range(num_res_blocks):
            out = mult * model_channels
            layers = [G.ResBlock(ch, time_embed_dim, dropout, out_channels=out, use_scale_shift_norm=use_scale_shift_norm)]
            ch = out
            if ds in attention_resolutions:
                layers.append(G.AttentionBlock(ch, num_heads=num_heads, num_head_channels=num_head_channels,
                                               use_new_attention_order=use_new_attention_order))
            blocks.append(G.TimestepEmbedSequential(*layers))
            chans.append(ch)
        if level != len(channel_mult) - 1:
            down = (G.ResBlock(ch, time_embed_dim, dropout, out_channels=ch, use_scale_shift_norm=use_scale_shift_norm,
                               down=True)
                    if resblock_updown else G.Downsample(ch, conv_resample, out_channels=ch))
            blocks.append(G.TimestepEmbedSequential(down))
            chans.append(ch)
            ds *= 2
    return blocks, chans, ch, ds


def _middle(ch, time_embed_dim, dropout, num_heads, num_head_channels, use_scale_shift_norm, use_new_attention_order):
    return G.TimestepEmbedSequential(
        G.ResBlock(ch, time_embed_dim, dropout, use_scale_shift_norm=use_scale_shift_norm),
        G.AttentionBlock(ch, num_heads=num_heads, num_head_channels=num_head_channels,
                         use_new_attention_order=use_new_attention_order),
        G.ResBlock(ch, time_embed_dim, dropout, use_scale_shift_norm=use_scale_shift_norm))


class AuthorsUNetModel(nn.Module):
    """The fork's UNetModel (the diffusion model)."""

    def __init__(self, image_size, in_channels, model_channels, out_channels, num_res_blocks, attention_resolutions,
                 dropout=0, channel_mult=(1, 2, 4, 8), conv_resample=True, num_classes=None, num_heads=1,
                 num_head_channels=-1, num_heads_upsample=-1, use_scale_shift_norm=False, resblock_updown=False,
                 use_new_attention_order=False):
        super().__init__()
        if num_heads_upsample == -1:
            num_heads_upsample = num_heads
        self.model_channels = model_channels
        self.num_classes = num_classes
        emb = model_channels * 4
        self.time_embed = nn.Sequential(nn.Linear(model_channels, emb), nn.SiLU(), nn.Linear(emb, emb))
        if num_classes is not None:
            self.label_emb = nn.Embedding(num_classes, emb)
        self.input_blocks, chans, ch, ds = _level_blocks(
            model_channels, channel_mult, num_res_blocks, attention_resolutions, dropout, conv_resample, num_heads,
            num_head_channels, use_scale_shift_norm, resblock_updown, use_new_attention_order, emb, in_channels)
        self.middle_block = _middle(ch, emb, dropout, num_heads, num_head_channels, use_scale_shift_norm,
                                    use_new_attention_order)
        self.output_blocks = nn.ModuleList([])
        for level, mult in list(enumerate(channel_mult))[::-1]:
            for i in range(num_res_blocks + 1):
                skip = chans.pop()
                out = model_channels * mult
                layers = [G.ResBlock(ch + skip, emb, dropout, out_channels=out, use_scale_shift_norm=use_scale_shift_norm)]
                ch = out
                if ds in attention_resolutions:
                    layers.append(G.AttentionBlock(ch, num_heads=num_heads_upsample, num_head_channels=num_head_channels,
                                                   use_new_attention_order=use_new_attention_order))
                if level and i == num_res_blocks:
                    layers.append(G.ResBlock(ch, emb, dropout, out_channels=ch, use_scale_shift_norm=use_scale_shift_norm,
                                             up=True)
                                  if resblock_updown else G.Upsample(ch, conv_resample, out_channels=ch))
                    ds //= 2
                self.output_blocks.append(G.TimestepEmbedSequential(*layers))
        # the fork's last conv reads model_channels (stock: channel_mult[0] * model_channels)
        self.out = nn.Sequential(G.normalization(ch), nn.SiLU(),
                                 G.zero_module(nn.Conv2d(model_channels, out_channels, 3, padding=1)))

    def forward(self, x, timesteps, y=None):
        assert (y is not None) == (self.num_classes is not None)
        emb = self.time_embed(G.timestep_embedding(timesteps, self.model_channels))
        if self.num_classes is not None:
            emb = emb + self.label_emb(y)
        hs, h = [], x
        for module in self.input_blocks:
            h = module(h, emb)
            hs.append(h)
        h = self.middle_block(h, emb)
        for module in self.output_blocks:
            h = module(th.cat([h, hs.pop()], dim=1), emb)
        return self.out(h)


class AuthorsEncoderUNetModel(nn.Module):
    """The fork's EncoderUNetModel with its `regression` flag (pools 'adaptive' and 'attention')."""

    def __init__(self, image_size, in_channels, model_channels, out_channels, num_res_blocks, attention_resolutions,
                 dropout=0, channel_mult=(1, 2, 4, 8), conv_resample=True, num_heads=1, num_head_channels=-1,
                 use_scale_shift_norm=False, resblock_updown=False, use_new_attention_order=False, pool="adaptive",
                 regression=False):
        super().__init__()
        self.model_channels = model_channels
        emb = model_channels * 4
        self.time_embed = nn.Sequential(nn.Linear(model_channels, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.input_blocks, _, ch, ds = _level_blocks(
            model_channels, channel_mult, num_res_blocks, attention_resolutions, dropout, conv_resample, num_heads,
            num_head_channels, use_scale_shift_norm, resblock_updown, use_new_attention_order, emb, in_channels)
        self.middle_block = _middle(ch, emb, dropout, num_heads, num_head_channels, use_scale_shift_norm,
                                    use_new_attention_order)
        if pool == "adaptive":
            self.out = nn.Sequential(G.normalization(ch), nn.SiLU(), nn.AdaptiveAvgPool2d((1, 1)),
                                     G.zero_module(nn.Conv2d(ch, out_channels, 1)), nn.Flatten())
        elif pool == "attention":
            assert num_head_channels != -1
            pool_layer = G.AttentionPool2d(image_size // ds, ch, num_head_channels, out_channels)
            if regression:
                self.out = nn.Sequential(G.normalization(ch), pool_layer)
            else:
                self.out = nn.Sequential(G.normalization(ch), nn.SiLU(), pool_layer)
        else:
            raise NotImplementedError(pool)

    def forward(self, x, timesteps):
        emb = self.time_embed(G.timestep_embedding(timesteps, self.model_channels))
        h = x
        for module in self.input_blocks:
            h = module(h, emb)
        h = self.middle_block(h, emb)
        return self.out(h)


def authors_regressor(image_size, regressor_width, regressor_depth, attention_resolutions, channel_mult,
                      use_scale_shift_norm=True, resblock_updown=True, pool="attention", in_channels=4,
                      num_head_channels=64):
    """As the fork's create_regressor (regression=True, one output), with the channel
    multipliers and head channels as arguments so that tiny test networks can be made."""
    return AuthorsEncoderUNetModel(
        image_size=image_size, in_channels=in_channels, model_channels=regressor_width, out_channels=1,
        num_res_blocks=regressor_depth, attention_resolutions=tuple(image_size // r for r in attention_resolutions),
        channel_mult=tuple(channel_mult), num_head_channels=num_head_channels,
        use_scale_shift_norm=use_scale_shift_norm, resblock_updown=resblock_updown, pool=pool, regression=True)


def save_like_authors(model, path):
    """torch.save of the state dict as the fork's training scripts write it
    (fp16_util.master_params_to_state_dict without fp16: model.state_dict()
    with each parameter entry replaced by the parameter itself)."""
    sd = model.state_dict()
    for name, p in model.named_parameters():
        sd[name] = p
    th.save(sd, path)
