"""Word lists for the synthetic sample: countries, regions, industries, products, people.

Plain data only. The generator draws indices into these tuples with numpy, so adding a
word changes the generated data (the sample is deterministic for a given version).
"""

from __future__ import annotations

# code, English name, sales region, relative weight, legal forms
COUNTRIES: tuple[tuple[str, str, str, float, tuple[str, ...]], ...] = (
    ("DE", "Germany", "DACH", 16.0, ("GmbH", "AG", "GmbH & Co. KG")),
    ("AT", "Austria", "DACH", 3.0, ("GmbH", "AG")),
    ("CH", "Switzerland", "DACH", 3.0, ("AG", "GmbH")),
    ("NL", "Netherlands", "Benelux", 5.0, ("B.V.", "N.V.")),
    ("BE", "Belgium", "Benelux", 3.0, ("NV", "SRL")),
    ("LU", "Luxembourg", "Benelux", 0.6, ("S.A.", "S.à r.l.")),
    ("FR", "France", "France", 10.0, ("SAS", "SA", "SARL")),
    ("GB", "United Kingdom", "UK & Ireland", 9.0, ("Ltd", "PLC")),
    ("IE", "Ireland", "UK & Ireland", 1.5, ("Ltd", "DAC")),
    ("SE", "Sweden", "Nordics", 3.0, ("AB",)),
    ("DK", "Denmark", "Nordics", 2.0, ("A/S", "ApS")),
    ("NO", "Norway", "Nordics", 1.5, ("AS",)),
    ("FI", "Finland", "Nordics", 1.5, ("Oy", "Oyj")),
    ("IT", "Italy", "Southern Europe", 7.0, ("S.p.A.", "S.r.l.")),
    ("ES", "Spain", "Southern Europe", 6.0, ("S.A.", "S.L.")),
    ("PT", "Portugal", "Southern Europe", 1.5, ("Lda", "S.A.")),
    ("PL", "Poland", "Central Europe", 4.0, ("Sp. z o.o.", "S.A.")),
    ("CZ", "Czechia", "Central Europe", 2.0, ("s.r.o.", "a.s.")),
    ("US", "United States", "Americas", 8.0, ("Inc.", "LLC", "Corp.")),
    ("CA", "Canada", "Americas", 1.5, ("Inc.", "Ltd")),
    ("MX", "Mexico", "Americas", 1.0, ("S.A. de C.V.",)),
    ("BR", "Brazil", "Americas", 1.0, ("Ltda", "S.A.")),
    ("CN", "China", "APAC", 2.0, ("Co., Ltd.",)),
    ("JP", "Japan", "APAC", 1.0, ("K.K.",)),
    ("SG", "Singapore", "APAC", 0.8, ("Pte. Ltd.",)),
    ("AU", "Australia", "APAC", 0.8, ("Pty Ltd",)),
    ("ZA", "South Africa", "Middle East & Africa", 0.8, ("(Pty) Ltd",)),
    ("AE", "United Arab Emirates", "Middle East & Africa", 0.6, ("LLC", "FZE")),
    # Namibia's ISO code is "NA": a value, not a missing marker (DESIGN, "Import").
    ("NA", "Namibia", "Middle East & Africa", 0.3, ("(Pty) Ltd",)),
)

INDUSTRIES: tuple[str, ...] = (
    "Automotive",
    "Machinery",
    "Food & Beverage",
    "Chemicals",
    "Electronics",
    "Construction",
    "Logistics",
    "Healthcare",
    "Energy",
    "Retail",
    "Aerospace",
    "Consumer Goods",
)

NAME_PREFIXES: tuple[str, ...] = (
    "Nord", "Alpen", "Blue", "Metro", "Tri", "Aqua", "Stern", "Rhein", "Orion", "Vector",
    "Atlas", "Delta", "Nova", "Polar", "Summit", "Falcon", "Granite", "Silver", "Crest", "Pioneer",
    "Vita", "Apex", "Helio", "Terra", "Kron", "Lumen", "Baltic", "Iber", "Cobalt", "Zenit",
    "Ever", "Brook", "Oak", "Harbor", "Quantum", "Merid", "Sol", "Adria", "Fjord", "Castell",
)  # fmt: skip

NAME_ROOTS: tuple[str, ...] = (
    "werk", "tech", "line", "pack", "form", "tec", "mark", "flex", "gate", "vale",
    "field", "stone", "bridge", "wave", "point", "core", "dyn", "sys", "tron", "max",
)  # fmt: skip

NAME_NOUNS: tuple[str, ...] = (
    "Industries", "Logistics", "Foods", "Systems", "Components", "Manufacturing", "Group",
    "Solutions", "Engineering", "Distribution", "Technologies", "Materials", "Holding",
    "Trading", "Works", "Products", "Services", "Automation", "Plastics", "Metals",
)  # fmt: skip

# category, relative share of products, median list price, gross margin at list price
CATEGORIES: tuple[tuple[str, float, float, float], ...] = (
    ("Electronic components", 1.4, 60.0, 0.20),
    ("Packaging materials", 1.2, 8.0, 0.27),
    ("Fasteners", 1.2, 4.0, 0.42),
    ("Tools", 1.0, 55.0, 0.38),
    ("Lubricants", 0.8, 25.0, 0.45),
    ("Safety equipment", 0.8, 35.0, 0.52),
    ("Adhesives & sealants", 0.8, 18.0, 0.58),
    ("Spare parts", 1.0, 120.0, 0.64),
)
LOW_MARGIN_CATEGORIES = (0, 1)  # what the value destroyers mostly buy
HIGH_MARGIN_CATEGORIES = (5, 6, 7)  # what the diamonds mostly buy

PRODUCT_WORDS: tuple[tuple[str, ...], ...] = (
    ("Relay", "Capacitor", "Sensor", "Connector", "Controller", "Power supply"),
    ("Carton", "Stretch film", "Pallet wrap", "Foam insert", "Tape roll", "Crate"),
    ("Hex bolt", "Nut", "Washer", "Anchor", "Rivet", "Screw"),
    ("Torque wrench", "Drill", "Grinder", "Socket set", "Caliper", "Crimper"),
    ("Gear oil", "Grease", "Hydraulic fluid", "Cutting oil", "Chain spray", "Spindle oil"),
    ("Safety glasses", "Glove", "Helmet", "Ear defender", "Harness", "Respirator"),
    ("Epoxy", "Silicone", "Threadlocker", "Cyanoacrylate", "PU sealant", "Hot melt"),
    ("Bearing", "Seal kit", "Pump impeller", "Valve", "Filter", "Drive belt"),
)

FIRST_NAMES: tuple[str, ...] = (
    "Anna", "Lukas", "Sofia", "Jonas", "Emma", "Mateo", "Lea", "Noah", "Mia", "Elias",
    "Clara", "Hugo", "Ines", "Oskar", "Nora", "Pablo", "Freya", "Luca", "Marta", "Sven",
    "Chloe", "Tomas", "Julia", "Karim", "Zoe", "Arjun", "Elif", "Mei", "David", "Sara",
    "Ole", "Laura", "Jan", "Paula", "Milan", "Aiko", "Rafael", "Ida", "Victor", "Hannah",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Schmidt", "Dubois", "Rossi", "Garcia", "Jansen", "Nielsen", "Kowalski", "Smith", "Novak",
    "Silva", "Berg", "Moreau", "Fischer", "Lopez", "Bianchi", "Peeters", "Virtanen", "Murphy",
    "Weber", "Costa", "Larsen", "Horvat", "Brown", "Meyer", "Santos", "Lindqvist", "Keller",
    "Conti", "Martin", "Wagner", "Andersen", "Ricci", "Schulz", "Dupont", "Ortega", "Haas",
)  # fmt: skip

# Assessors who are not account managers (they assess the large accounts too).
EXTRA_ASSESSORS: tuple[str, ...] = (
    "Head of Sales",
    "CFO",
    "Supply Chain Director",
    "Customer Service Lead",
    "Regional VP",
)

CRITERIA: tuple[str, ...] = (
    "aligned_strategy",
    "financial_security",
    "ease_of_business",
    "brand_value",
    "business_stability",
    "global_position",
    "cross_sell",
    "adjacent_markets",
)

COMMENTS_LOW: tuple[str, ...] = (
    "Many escalations; difficult to work with",
    "Procurement-driven, only price matters",
    "Payment delays again this year",
    "Little overlap with our roadmap",
    "Volumes shrinking, unclear plans",
)
COMMENTS_MID: tuple[str, ...] = (
    "Steady, nothing special",
    "Some potential, needs more contact at management level",
    "Mixed picture across sites",
    "OK relationship, limited access to decision makers",
)
COMMENTS_HIGH: tuple[str, ...] = (
    "Strategic partner, joint development projects",
    "Strong brand, reference customer",
    "Open to new product lines",
    "Excellent relationship at board level",
    "Expanding into new markets with us",
)

RATED_ACTIVITIES: tuple[str, ...] = (
    "custom_packaging",
    "special_shipping",
    "dedicated_service_hour",
    "edi_message",
    "quality_call",
)
AMOUNT_ACTIVITIES: tuple[str, ...] = ("marketing_support", "claims_handling")

STATUSES_ACTIVE = "active"
