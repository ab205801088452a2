"""Built-in drivers, installed as `rtoc_tui.drivers` (see pyproject.toml package-dir).

The registry maps a driver name to "module:Class" so that listing drivers imports none of them
and starting one imports only that one.
"""

BUILTIN: dict[str, str] = {
    "Generator": "rtoc_tui.drivers.generator:Generator",
    "System": "rtoc_tui.drivers.system:System",
    "DPS5020": "rtoc_tui.drivers.dps5020:DPS5020",
    "VC820": "rtoc_tui.drivers.vc820:VC820",
    "INA219": "rtoc_tui.drivers.ina219:INA219",
    "Otii": "rtoc_tui.drivers.otii:Otii",
    "Heliotherm": "rtoc_tui.drivers.heliotherm:Heliotherm",
    "OctoPrint": "rtoc_tui.drivers.octoprint:OctoPrint",
}
