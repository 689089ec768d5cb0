"""The three-way detector's frame geometry and its thresholds, validated; times scale with `sensitivity`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hal.audio import SAMPLE_RATE

FRAME = 160  # 20 ms analysis frame
SUB = 20  # 2.5 ms sub-block for click timing
SUBS_PER_FRAME = FRAME // SUB
TONE_WINDOW = 512  # 64 ms: resolves 440 from 480 Hz
FRAME_S = FRAME / SAMPLE_RATE
SUB_S = SUB / SAMPLE_RATE


class ThreeWayConfig(BaseModel):
    """Thresholds of the detector; times are for sensitivity 0.5 and scale with it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensitivity: float = Field(default=0.5, ge=0.0, le=1.0, description="0 = most cautious, 1 = most eager")
    idle_ceiling_dbm0: float = Field(
        default=-66.0, ge=-90.0, le=-40.0, description="a hold with no click or tone must reach a floor below this"
    )
    floor_drop_db: float = Field(default=8.0, ge=3.0, le=40.0, description="drop below the learned far-end floor")
    floor_window_s: float = Field(default=5.0, ge=1.0, le=30.0, description="history used to learn the far-end floor")
    floor_percentile: float = Field(default=20.0, ge=1.0, le=50.0)
    learn_min_s: float = Field(default=2.0, ge=0.5, le=20.0, description="no decision before this much call audio")
    hold_confirm_s: float = Field(default=2.0, ge=0.5, le=10.0, description="a hold with no other evidence")
    hold_confirm_click_s: float = Field(default=1.4, ge=0.3, le=10.0, description="a hold that began with a click")
    hold_confirm_tone_s: float = Field(
        default=0.8, ge=0.1, le=10.0, description="a hold that carries a bridged tone (dial tone, ringback, DTMF)"
    )
    flash_confirm_s: float = Field(default=0.5, ge=0.1, le=5.0, description="hold after the closing click of a flash")
    flash_gap_s: tuple[float, float] = (0.15, 1.3)
    flash_silence_s: float = Field(
        default=1.5, ge=0.3, le=10.0, description="a far end silent this long after a whole hookflash has left the line"
    )
    silent_click_min_db: float = Field(
        default=30.0,
        ge=6.0,
        le=80.0,
        description="... when the stronger of its two clicks in quiet stands this far out: a hookswitch's, not a "
        "cordless phone's pop or a hold button's click",
    )
    click_isolation_s: float = Field(
        default=30.0, ge=0.0, le=120.0, description="no other click this long before a flash (a crackling line)"
    )
    click_isolation_margin_db: float = Field(
        default=20.0,
        ge=0.0,
        le=80.0,
        description="an earlier click this much weaker than a flash's own is a faint one in talk, not crackle",
    )
    click_window_s: float = Field(default=0.25, ge=0.05, le=1.0, description="a click this close to a hold's start")
    hold_gap_s: float = Field(default=0.12, ge=0.0, le=1.0, description="louder frames tolerated inside a hold")
    click_rise_db: float = Field(default=15.0, ge=6.0, le=40.0)
    click_max_ms: float = Field(default=40.0, ge=5.0, le=100.0)
    click_min_dbm0: float = Field(default=-45.0, ge=-80.0, le=0.0, description="a click's 2.5 ms power at least this")
    click_quiet_ceiling_dbm0: float = Field(default=-36.0, ge=-80.0, le=-10.0, description="'silence' around a click")
    into_fall_db: float = Field(
        default=10.0, ge=0.0, le=40.0, description="a click into sound stands this far above the 100 ms after it"
    )
    into_louder_db: float = Field(
        default=6.0, ge=0.0, le=40.0, description="the sound after a click into sound is this much louder than before"
    )
    into_masker_max_dbm0: float = Field(
        default=-20.0,
        ge=-60.0,
        le=0.0,
        description="a click into sound may come out of a masker played in the room up to this loud",
    )
    into_decay_db: float = Field(
        default=14.0,
        ge=0.0,
        le=40.0,
        description="a click into sound has fallen this far 7.5-17.5 ms after its peak (a plosive has not)",
    )
    into_sound_min_dbm0: float = Field(
        default=-48.0,
        ge=-80.0,
        le=0.0,
        description="... into music on hold, played to be heard: from the opening click on, the line's median level is "
        "at least this loud (a cordless phone's static or a phone settling into a quiet room is not)",
    )
    same_line_db: float = Field(
        default=3.0,
        ge=0.0,
        le=20.0,
        description="... and its rests do not fall back to within this of the far end's quietest pause (the far end's "
        "own line still there under music played into it: a PBX's hold, a record in the room)",
    )
    into_settle_db: float = Field(
        default=4.0,
        ge=0.0,
        le=20.0,
        description="... or, into sound nearly as loud as itself, has fallen to within this of the 100 ms after it",
    )
    into_high_rise_db: float = Field(
        default=30.0,
        ge=6.0,
        le=60.0,
        description="a click into loud music may die away in 2.4-3.4 kHz alone if it stands this far over the quiet",
    )
    into_high_fall_db: float = Field(
        default=25.0,
        ge=0.0,
        le=60.0,
        description="... and stands this far over the 100 ms after it in 2.4-3.4 kHz, where music is weak",
    )
    lone_music_s: float = Field(
        default=1.85,
        ge=0.5,
        le=5.0,
        description="a lone hookswitch click into music that never lets up is decided this long after it: after any "
        "closing click could have decided its hookflash",
    )
    lone_music_tonal_share: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="... when at least this share of the frames after it stand over their own floor (music, not "
        "static)",
    )
    over_pair_rise_db: float = Field(
        default=35.0,
        ge=6.0,
        le=60.0,
        description="two lone clicks 0.15-1.3 s apart, each heard in quiet or standing this far above sound in "
        "2.4-3.4 kHz (music played in the room), are a hookflash into music on hold ...",
    )
    over_pair_music_s: float = Field(
        default=1.5,
        ge=0.5,
        le=5.0,
        description="... when the music after the closing click never lets up for this long",
    )
    pair_music_min_dbm0: float = Field(
        default=-60.0, ge=-80.0, le=0.0, description="... at this level or louder (the clicks say it is no pause)"
    )
    pair_music_rests: float = Field(
        default=0.1, ge=0.0, le=0.5, description="... except this share of its frames (music's rests and beats)"
    )
    over_rise_db: float = Field(
        default=30.0,
        ge=6.0,
        le=60.0,
        description="a click over sound stands this far above its surroundings in 2.4-3.4 kHz (music is weak there)",
    )
    over_residual_rise_db: float = Field(
        default=26.0,
        ge=6.0,
        le=60.0,
        description="... or this far above its surroundings in the sound's prediction residual (music is predictable, "
        "a click is not)",
    )
    tone_min_dbm0: float = Field(default=-60.0, ge=-80.0, le=-20.0)
    tone_snr_db: float = Field(
        default=12.0, ge=3.0, le=40.0, description="bridged tone above the held floor's noise in the tone's own bin"
    )
    tone_dominance_db: float = Field(default=8.0, ge=1.0, le=30.0, description="a tone within this of the total power")
    tone_twist_db: float = Field(default=10.0, ge=1.0, le=30.0)
    dial_min_s: float = Field(default=0.1, ge=0.04, le=2.0)
    dtmf_min_s: float = Field(default=0.04, ge=0.02, le=0.5)
    dial_digits: int = Field(
        default=4, ge=2, le=20, description="faint DTMF keys in a row out of a pause: a number dialled beyond the line"
    )
    dial_under_talk_db: float = Field(
        default=12.0,
        ge=3.0,
        le=60.0,
        description="... each this far under the call's talk (the called party's own keys are as loud as its voice)",
    )
    dial_gap_s: float = Field(default=1.0, ge=0.1, le=5.0, description="... no more than this apart")
    dial_echo_s: float = Field(
        default=1.0, ge=0.0, le=5.0, description="DTMF this soon after the inmate's own key is its echo"
    )
    masking_floor_dbm0: float = Field(
        default=-40.0,
        ge=-70.0,
        le=0.0,
        description="a far end this loud (its floor, or even its quietest moments) is masking",
    )
    masker_min_s: float = Field(
        default=1.0,
        ge=0.0,
        le=30.0,
        description="... and has played this long without a break before its cut may open a hookflash",
    )
    beyond_drop_db: float = Field(
        default=12.0,
        ge=3.0,
        le=60.0,
        description="music whose quietest bins lie this far below the quietest the call has sustained comes from "
        "beyond the far end's line (a switch's music on hold, not a PBX's over the line)",
    )
    beyond_sound_dbm0: float = Field(
        default=-40.0, ge=-70.0, le=0.0, description="... while the line sounds at least this loud (a 0.5 s median)"
    )
    beyond_confirm_s: float = Field(
        default=1.0, ge=0.1, le=10.0, description="... for this long: the far end's line is gone"
    )
    ringback_under_db: float = Field(
        default=15.0,
        ge=6.0,
        le=40.0,
        description="ringback whose two tones each stand this far over the bins 12-40 Hz beside them (0.25 s "
        "windows) is heard under the held line's sound",
    )
    ringback_under_s: float = Field(
        default=0.3, ge=0.05, le=3.0, description="... for this long, on a call that has answered: a third party rung"
    )
    hum_stand_db: float = Field(
        default=10.0,
        ge=3.0,
        le=40.0,
        description="a mains hum line (50/60 Hz or a harmonic) standing this far over the bins beside it is heard",
    )
    hum_seen: int = Field(
        default=3, ge=1, le=100, description="0.5 s windows in which a hum line stood before a hold: the call's own"
    )
    hum_lookback_s: float = Field(
        default=30.0, ge=2.0, le=35.0, description="... among those of this long before the hold"
    )
    open_loop_db: float = Field(
        default=6.0,
        ge=0.0,
        le=40.0,
        description="during a hookflash the far end's line is open: this far under the quietest pause it made, or "
        "down at the quietest a channel carries (`channel_floor_dbm0`)",
    )
    channel_floor_dbm0: float = Field(
        default=-65.0,
        ge=-100.0,
        le=-40.0,
        description="as quiet as a channel gets: G.711 A-law's quietest code decodes to about -66 dBm0",
    )
    held_sound_db: float = Field(
        default=15.0,
        ge=3.0,
        le=60.0,
        description="sound this far above the open line in every frame, and above the far end's quietest pause in "
        "its median, never lets up: music on hold",
    )
    held_sound_spread_db: float = Field(
        default=12.0, ge=3.0, le=60.0, description="... and within this of its own median in every frame (talk is not)"
    )
    flash_sound_s: float = Field(
        default=1.0, ge=0.2, le=5.0, description="... for this long after a hookflash's open line: the line is held"
    )
    conference_drop_db: tuple[float, float] = (2.0, 9.0)
    conference_watch_s: float = Field(default=6.0, ge=0.5, le=30.0, description="audio compared after a hold")
    talk_window_s: float = Field(default=20.0, ge=2.0, le=120.0, description="talk level learned over this long")
    active_above_floor_db: float = Field(default=15.0, ge=3.0, le=40.0, description="a frame this loud is talk")
    rearm_s: float = Field(default=8.0, ge=0.0, le=120.0, description="normal audio needed before a new decision")
    held_max_level_dbm0: float = Field(
        default=-30.0, ge=-60.0, le=0.0, description="a frame louder than this is not a held line (a key's own tone)"
    )
    muffle_low_db: float = Field(
        default=8.0,
        ge=0.0,
        le=40.0,
        description="a dropped floor whose low band (300-1000 Hz) stays within this of the call's quietest is a "
        "muffled room (a phone set down, a hand over it), not a hold",
    )
    new_floor_margin_db: float = Field(
        default=3.0, ge=0.0, le=20.0, description="a held floor is this far below any floor the call has sustained"
    )
    floor_rise_db: float = Field(
        default=6.0, ge=2.0, le=40.0, description="a steady noise this far above the learned floor replaced the far end"
    )
    band_rise_db: float = Field(
        default=6.0,
        ge=2.0,
        le=40.0,
        description="a steady noise this far above the learned floor in one of four bands replaced the far end",
    )
    noise_like_db: float = Field(
        default=6.0,
        ge=1.0,
        le=30.0,
        description="a frame whose level is within this of its floor is steady noise, not talk",
    )
    flash_change_db: float = Field(
        default=2.5,
        ge=0.5,
        le=20.0,
        description="with a hookflash or bridged tones, a steady floor this far from the call's",
    )
    raised_spread_db: float = Field(
        default=6.0,
        ge=1.0,
        le=30.0,
        description="a raised held line's floor keeps within this over its last 0.2 s (static bursts come and go)",
    )
    raised_max_dbm0: float = Field(
        default=-36.0,
        ge=-70.0,
        le=0.0,
        description="a raised held line is at most this loud (louder is noise played in a room)",
    )
    block_frames: int = Field(default=10, ge=1, le=500, description="frames buffered per analysis block when streaming")

    @model_validator(mode="after")
    def _ordered(self) -> ThreeWayConfig:
        if not 0 < self.flash_gap_s[0] < self.flash_gap_s[1]:
            raise ValueError(f"flash_gap_s must be (min, max) with 0 < min < max, got {self.flash_gap_s}")
        if not 0 <= self.conference_drop_db[0] < self.conference_drop_db[1]:
            raise ValueError(f"conference_drop_db must be (min, max), got {self.conference_drop_db}")
        return self

    @property
    def time_scale(self) -> float:
        """Confirmation times x this: 2.0 at sensitivity 0, 1.0 at 0.5, 0.5 at 1."""
        return float(2.0 ** ((0.5 - self.sensitivity) * 2.0))

    @property
    def ceiling_dbm0(self) -> float:
        """The idle ceiling moves +-4 dB with the sensitivity."""
        return self.idle_ceiling_dbm0 + (self.sensitivity - 0.5) * 8.0
