"""The audio stage: log-mel features and voice activity (`features`), and per-second speech
fractions and audio-expert readings at the A/V-aligned time (`analyse`)."""
