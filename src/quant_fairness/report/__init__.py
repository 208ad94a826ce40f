"""Stage 6, report: the run's results as a versioned document.

The report's content (every number of the chapters, read from result files), findings and
recommendations, figures, the journal, rendering (Quarto, or pandoc and Typst), and the
fixed rules for printing numbers.

May import: the shared ground, quant_fairness.plan and every stage below.
Rules: workflow/rules/report.smk; scripts: scripts/report/.
"""
