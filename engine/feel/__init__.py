"""FEEL, the cell language of decision tables: S-FEEL (DMN 1.5, chapter 9) and the
few FEEL extras that DMN models use, parsed by kade's own grammar (never eval)."""
