# %% [markdown]
# # A campaign in a notebook
#
# Load the example campaign, dry run it, look at its rows, and see what it costs per country:
# first as estimated before sending, then as charged by the built-in simulator. Nothing leaves
# this machine and no account is needed.
#
# Run it as a script (`.venv/bin/python examples/notebook.py`), or open it in Jupyter
# (through jupytext) or VS Code, where each `# %%` line starts a cell.

# %%
from decimal import Decimal
from pathlib import Path

import rcsbatch
from rcsbatch.reports.figures import region

# A notebook kernel has no __file__ and starts in the notebook's folder: look upwards from there.
here = Path(globals().get("__file__", "notebook.py")).resolve().parent
CAMPAIGN = next(
    folder / "campaigns" / "example.toml"
    for folder in (here, *here.parents)
    if (folder / "campaigns" / "example.toml").exists()
)
campaign = rcsbatch.load_campaign(CAMPAIGN)

# %% [markdown]
# ## The dry run
#
# Every check a real run makes, and nothing sent: the rows that would go are `ready`, the others
# say why not in `error_text`. The run folder's name ends in `-dry-run`.

# %%
dry = rcsbatch.run(campaign, dry_run=True)
print("dry run folder:", dry.folder)
rows = dry.results
print(rows[["row", "recipient", "status", "error_text"]].head(8).to_string(index=False))

# %%
print(rows["status"].value_counts().to_string())


# %% [markdown]
# ## Cost per country
#
# The results hold the number as seven writes it (digits with the country code), not its
# country: `region` tells the country from the digits, as `rcsbatch report` does.


# %%
ready = rows[rows["status"] == "ready"].assign(country=lambda r: r["recipient"].map(region))
price = campaign.send.price_estimate
estimate = ready.groupby("country").size().rename("messages").to_frame()
if price is not None:  # the campaign's [send] price_estimate, per message
    estimate["estimated cost"] = estimate["messages"] * price
print("estimated, before sending:")
print(estimate.to_string())

# %% [markdown]
# ## What a send would charge
#
# `simulate=True` sends through the built-in simulator, which answers and charges like seven's
# gateway. Running this cell again resumes the campaign: nothing is sent twice, and the results
# still list every row.

# %%
sent = rcsbatch.run(campaign, simulate=True)
print("simulated run folder:", sent.folder, "exit code", sent.exit_code)
charged = sent.results[sent.results["status"] == "sent"].assign(
    country=lambda r: r["recipient"].map(region)
)
# Prices are exact decimals, or empty while seven has not priced a message yet.
cost = charged.groupby("country").agg(
    messages=("price", "size"), cost=("price", lambda p: sum(p.dropna(), start=Decimal(0)))
)
total = cost["cost"].sum()
# Shown without the trailing zeros of the scale results.parquet stores prices in.
cost["cost"] = cost["cost"].map(lambda d: f"{d.normalize():f}")
print("charged by the simulator:")
print(cost.to_string())
print(f"total: {total.normalize():f} {sent.report.currency}")
