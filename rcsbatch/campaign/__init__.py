"""The campaign file and the message it describes: templates, rich content, limits.

- `file`: The campaign file: read a TOML file into a checked, frozen `Campaign`
- `limits`: Size limits of a message, checked per row before anything is sent: the `[limits]` table
- `rich`: Rich messages: the `[message]` tables for a rich card, a carousel, a file and suggestions
- `richpreview`: A rich message for people: the RCS object drawn as panels with its buttons
- `template`: Message templates: text with `{column}` placeholders, merged per row
- `window`: Quiet hours: the part of each day a recipient may be messaged

Nothing is imported here: import the module you need, so each stays cheap.
"""
