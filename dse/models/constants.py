"""Physical constants and unit factors used by the models.

Internal per-area units: areal capacity [mAh/cm²], areal mass [mg/cm²],
thickness [µm], areal energy [mWh/cm²]. Then mWh/mg = Wh/g = kWh/kg and
mWh/(cm²·µm) = 1e4 Wh/L.
"""

FARADAY = 96485.33212  # [C/mol], CODATA 2018 exact
MAH_PER_MOL = FARADAY / 3.6  # [mAh/mol]
BOLTZMANN = 8.617333262e-5  # [eV/K]
ZERO_CELSIUS = 273.15  # [K]
#: areal mass [mg/cm²] of a 1 µm layer of density 1 g/cm³
MG_PER_UM_G_CM3 = 0.1
#: thickness [µm] of 1 mg/cm² at 1 g/cm³
UM_PER_MG_CM3 = 10.0
#: Wh/L per mWh/(cm²·µm)
WH_L_PER_MWH_CM2_UM = 1.0e4
#: Wh/kg per mWh/mg
WH_KG_PER_MWH_MG = 1000.0
#: physical range of the cathode loading [mAh/cm²], the bounds of the input in
#: dse.vocabulary: a thinner coating is not an electrode (thin-film microbatteries hold
#: ~0.01-0.1 mAh/cm²), and towards 0 the energy vanishes, the cost per kWh and the CE
#: surrogate's features run off to infinity
MIN_CATHODE_LOADING = 0.01
MAX_CATHODE_LOADING = 50.0
