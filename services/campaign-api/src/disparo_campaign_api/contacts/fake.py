"""Realistic Brazilian doctors as CSV, generated lazily, for benchmarks and demos.

``generate_contacts_csv(1_000_000, seed=7)`` yields the header line and then one line per
doctor (about 110 bytes each), so a benchmark can stream a million contacts into
``POST /v1/contacts/import`` without building the file. The same seed gives the same file.
Phones are valid mobiles of each region's area codes, written in the mixed forms real lists
have (with and without the ninth digit, with "+55", with punctuation); every phone is distinct,
so n rows import as n contacts.
"""

import random
from collections.abc import Iterator

HEADER = "nome,telefone,especialidade,regiao,tags,status,crm_uf\n"

SPECIALTIES = [
    ("Clínica Médica", 18), ("Pediatria", 10), ("Anestesiologia", 9), ("Cirurgia Geral", 8),
    ("Ginecologia e Obstetrícia", 8), ("Medicina de Emergência", 7), ("Ortopedia", 6),
    ("Cardiologia", 6), ("Medicina Intensiva", 5), ("Psiquiatria", 4), ("Neurologia", 3),
    ("Radiologia", 3), ("Dermatologia", 2), ("Oftalmologia", 2), ("Medicina de Família", 5),
    ("Infectologia", 2), ("Nefrologia", 1), ("Urologia", 1),
]  # fmt: skip

# region, area codes (DDD), state, weight
REGIONS = [
    ("Capital SP", ("11",), "SP", 30), ("ABC", ("11",), "SP", 10), ("Campinas", ("19",), "SP", 8),
    ("Baixada Santista", ("13",), "SP", 5), ("Vale do Paraíba", ("12",), "SP", 4),
    ("Sorocaba", ("15",), "SP", 4), ("Ribeirão Preto", ("16",), "SP", 4),
    ("Rio de Janeiro", ("21",), "RJ", 12), ("Belo Horizonte", ("31",), "MG", 8),
    ("Curitiba", ("41",), "PR", 6), ("Porto Alegre", ("51",), "RS", 5),
    ("Salvador", ("71",), "BA", 4),
]  # fmt: skip

FIRST_NAMES = [
    "Ana", "Beatriz", "Camila", "Carla", "Daniela", "Fernanda", "Gabriela", "Juliana", "Larissa",
    "Mariana", "Patrícia", "Renata", "Aline", "Letícia", "Bruna", "Luísa", "Helena", "Marina",
    "André", "Bruno", "Carlos", "Daniel", "Eduardo", "Felipe", "Gustavo", "Henrique", "João",
    "Lucas", "Marcelo", "Paulo", "Rafael", "Rodrigo", "Thiago", "Vinícius", "Pedro", "Mateus",
]  # fmt: skip
LAST_NAMES = [
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima",
    "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes",
    "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira", "Nunes", "Marques",
    "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Gonçalves", "Teixeira", "Araújo",
]  # fmt: skip
TAGS = ["disponível", "noturno", "plantão 12h", "plantão 24h", "fim de semana", "UTI", "PS",
        "preferencial", "recém-formado", "já trabalhou conosco"]  # fmt: skip
STATUSES = [("active", 85), ("inactive", 12), ("on_leave", 3)]


def _phone_text(ddd: str, subscriber: int, rng: random.Random) -> str:
    """One valid mobile, ``9`` + 8 digits, in one of the forms contact lists hold."""
    local = f"9{subscriber:08d}"
    style = rng.random()
    if style < 0.35:
        return f"({ddd}) {local[:5]}-{local[5:]}"
    if style < 0.6:
        return f"+55 {ddd} {local[:5]}-{local[5:]}"
    if style < 0.8:
        return f"55{ddd}{local}"
    if style < 0.9:
        return f"{ddd}{local}"
    return f"({ddd}) {local[1:5]}-{local[5:]}"  # the old form, without the ninth digit


def _quote(value: str) -> str:
    return f'"{value}"' if "," in value or '"' in value else value


def generate_contacts_csv(n: int, seed: int = 0) -> Iterator[str]:
    """The header then ``n`` CSV lines of distinct doctors; constant memory."""
    rng = random.Random(seed)
    specialties = [s for s, _ in SPECIALTIES]
    specialty_weights = [w for _, w in SPECIALTIES]
    region_weights = [r[3] for r in REGIONS]
    status_names = [s for s, _ in STATUSES]
    status_weights = [w for _, w in STATUSES]
    # Distinct subscribers without a set: walk 9-digit locals with a stride coprime to 10**8.
    start, stride = rng.randrange(60_000_000, 99_999_999), 7_777_777
    yield HEADER
    for i in range(n):
        region, ddds, state, _ = rng.choices(REGIONS, region_weights)[0]
        subscriber = 60_000_000 + (start + i * stride) % 40_000_000  # 9 6xxx-xxxx … 9 9xxx-xxxx
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)} {rng.choice(LAST_NAMES)}"
        tags = "|".join(rng.sample(TAGS, rng.choice((0, 1, 1, 2, 2, 3))))
        yield (
            ",".join(
                (
                    name,
                    _phone_text(rng.choice(ddds), subscriber, rng),
                    _quote(rng.choices(specialties, specialty_weights)[0]),
                    _quote(region),
                    _quote(tags),
                    rng.choices(status_names, status_weights)[0],
                    state,
                )
            )
            + "\n"
        )
