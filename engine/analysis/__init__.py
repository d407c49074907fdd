"""What kade tells managers about rules and registers: the static rule check
(`kade rules check`), Tests sheets (`kade rules test`), rule diffs (`kade rules
diff`) and the compliance check of recorded decisions (`kade check`)."""
