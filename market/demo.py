"""Demo data for `anlauf serve --demo`: a living marketplace in Leipzig and Halle (Saale).

Everything here is invented: the people, the organisations (none is a real association) and
their posts. The data goes through the same services as real use (posts.create, vetting
decisions, organisation approval), so statuses, regions, events and matches follow the rules.

`build_plan()` is pure and deterministic (random.Random(2026)): the same people, places and
relative times every run. `load_demo()` writes the plan into an empty database, oldest event
first, then moves the timestamps into the past so that waiting times differ.

Every demo account has the password DEMO_PASSWORD; the README lists the five named accounts.
One argon2 hash is computed and shared by all accounts, which keeps loading to a few seconds.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.accounts.services import count_users, set_languages
from market.db import utcnow
from market.directory.demo import load_directory
from market.i18n import LOCALES
from market.organisations.models import Organisation, OrganisationMember
from market.posts import services as posts
from market.posts.models import Post, Region
from market.posts.schemas import PostIn
from market.security import hash_password
from market.settings import Settings
from market.vetting import services as vetting
from market.vetting.schemas import Checks, OrganisationDecisionIn, VolunteerDecisionIn

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - published in the README on purpose
DEMO_DOMAIN = "demo.anlauf.local"
SEED = 2026

COORDINATOR_EMAIL = f"koordination@{DEMO_DOMAIN}"
ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"
VOLUNTEER_EMAIL = f"volunteer@{DEMO_DOMAIN}"
SEEKER_EMAIL = f"seeker@{DEMO_DOMAIN}"
ORGANISATION_EMAIL = f"org@{DEMO_DOMAIN}"
DEMO_ACCOUNTS = {
    COORDINATOR_EMAIL: "coordinator",
    ADMIN_EMAIL: "admin",
    VOLUNTEER_EMAIL: "volunteer",
    SEEKER_EMAIL: "seeker",
    ORGANISATION_EMAIL: "organisation",
}

# slug, name, centre, radius in km
REGIONS = (
    ("leipzig", "Leipzig", 51.3397, 12.3731, 25.0),
    ("halle-saale", "Halle (Saale)", 51.4825, 11.9700, 20.0),
)

# Points inside districts; each person lives a few hundred metres from one of them.
DISTRICTS: dict[str, tuple[float, float]] = {
    "zentrum": (51.3397, 12.3731),
    "suedvorstadt": (51.3250, 12.3730),
    "connewitz": (51.3150, 12.3800),
    "plagwitz": (51.3270, 12.3340),
    "lindenau": (51.3390, 12.3230),
    "leutzsch": (51.3470, 12.3000),
    "gruenau": (51.3170, 12.2850),
    "gohlis": (51.3640, 12.3700),
    "eutritzsch": (51.3680, 12.3870),
    "moeckern": (51.3720, 12.3450),
    "mockau": (51.3800, 12.4080),
    "schoenefeld": (51.3600, 12.4200),
    "volkmarsdorf": (51.3470, 12.4120),
    "reudnitz": (51.3330, 12.4050),
    "paunsdorf": (51.3460, 12.4500),
    "stoetteritz": (51.3220, 12.4200),
    "halle-zentrum": (51.4825, 11.9700),
    "halle-paulusviertel": (51.4920, 11.9630),
    "halle-giebichenstein": (51.4985, 11.9610),
    "halle-neustadt": (51.4800, 11.9050),
    "halle-suedstadt": (51.4620, 11.9780),
    "halle-freiimfelde": (51.4870, 11.9950),
}
JITTER_LAT, JITTER_LON = 0.006, 0.009  # about 650 m either way


# --------------------------------------------------------------------------------------------
# What people write


@dataclass(frozen=True)
class DemoPost:
    category: str
    title: str
    body: str
    languages: str  # space-separated tags; the first is the language the post is written in
    mode: str = "in_person"
    radius_km: float | None = None
    seats: int | None = None


@dataclass(frozen=True)
class Person:
    name: str
    speaks: str  # "de native, en fluent, fr basic"
    home: str  # a key of DISTRICTS
    posts: tuple[DemoPost, ...] = ()
    vetting: str | None = None  # volunteers: approved | pending | rejected | expired
    certificate: bool = False  # volunteers: an extended police certificate a year ahead
    email: str | None = None  # derived from the name unless given


@dataclass(frozen=True)
class DemoOrganisation:
    name: str
    website: str
    description: str
    approved: bool
    member: Person


def p(
    category: str,
    title: str,
    body: str,
    languages: str,
    mode: str = "in_person",
    *,
    radius_km: float | None = None,
    seats: int | None = None,
) -> DemoPost:
    return DemoPost(category, title, body, languages, mode, radius_km, seats)


VOLUNTEERS: tuple[Person, ...] = (
    Person(
        "Lena Hoffmann",
        "de native, en fluent, fr basic",
        "suedvorstadt",
        email=VOLUNTEER_EMAIL,
        vetting="approved",
        certificate=True,
        posts=(
            p(
                "education-homework",
                "Hausaufgabenhilfe Mathe und Deutsch (Klasse 5–10)",
                "Ich studiere Lehramt an der Uni Leipzig und helfe gern bei Hausaufgaben, vor allem "
                "in Mathe und Deutsch. Am liebsten dienstags oder donnerstags ab 16 Uhr, bei euch "
                "zu Hause, in der Stadtbibliothek oder per Video. Ein erweitertes Führungszeugnis "
                "liegt vor.",
                "de en",
                "either",
                radius_km=8,
            ),
            p(
                "accompaniment-authorities",
                "Begleitung zu Ämtern: Bürgeramt, Jobcenter, Ausländerbehörde",
                "Ich komme mit zu Terminen bei Behörden in Leipzig, helfe beim Ausfüllen von "
                "Formularen und erkläre Briefe. Ich spreche Deutsch, Englisch und etwas "
                "Französisch. Meistens habe ich vormittags Zeit.",
                "de en fr",
            ),
        ),
    ),
    Person(
        "Jürgen Schubert",
        "de native, ru basic",
        "gohlis",
        vetting="approved",
        posts=(
            p(
                "accompaniment-authorities",
                "Begleitung zum Jobcenter Leipzig-Mitte",
                "Ich bin Rentner und war 30 Jahre in der Verwaltung. Ich begleite Sie zum "
                "Jobcenter oder zur Familienkasse, bereite den Termin mit Ihnen vor und bleibe "
                "dabei, bis alles geklärt ist. Etwas Russisch aus der Schulzeit kann ich noch.",
                "de ru",
                radius_km=12,
            ),
            p(
                "transport",
                "Transporter für kleine Umzüge am Wochenende",
                "Ich habe einen VW-Bus und helfe samstags beim Transport von Möbeln, "
                "Waschmaschinen oder Spenden innerhalb von Leipzig. Tragen kann ich mit, für "
                "schwere Sachen brauchen wir noch eine zweite Person.",
                "de",
                radius_km=15,
            ),
        ),
    ),
    Person(
        "Sarah Neumann",
        "de native, en fluent, es basic",
        "plagwitz",
        vetting="approved",
        certificate=True,
        posts=(
            p(
                "childcare",
                "Kinderbetreuung nachmittags in Plagwitz",
                "Ich bin Erzieherin und betreue ehrenamtlich Kinder von 2 bis 8 Jahren, zum "
                "Beispiel während eines Deutschkurses oder eines Termins. Montags und mittwochs "
                "von 14 bis 18 Uhr. Erweitertes Führungszeugnis vorhanden.",
                "de en es",
                radius_km=5,
            ),
        ),
    ),
    Person(
        "Omar Al-Masri",
        "ar native, de fluent, en fluent",
        "reudnitz",
        vetting="approved",
        posts=(
            p(
                "accompaniment-doctor",
                "أرافقك إلى الطبيب وأترجم لك",
                "أنا ممرض في مستشفى في لايبزيغ وأعيش هنا منذ 2015. يمكنني مرافقتك إلى موعد "
                "الطبيب أو المستشفى والترجمة بين العربية والألمانية. أفضّل المواعيد بعد الظهر "
                "أو يوم السبت.",
                "ar de",
            ),
            p(
                "translation",
                "Übersetzung Arabisch–Deutsch: Briefe vom Amt erklären",
                "Schicken Sie mir ein Foto vom Brief (Jobcenter, Krankenkasse, Vermieter), ich "
                "erkläre auf Arabisch, was drinsteht und was zu tun ist. Keine beglaubigten "
                "Übersetzungen.",
                "de ar",
                "remote",
            ),
        ),
    ),
    Person(
        "Maryam Hosseini",
        "fa native, de fluent, en fluent",
        "lindenau",
        vetting="approved",
        posts=(
            p(
                "language",
                "آموزش زبان آلمانی برای تازه‌واردها (سطح A1 و A2)",
                "من دانشجوی کارشناسی ارشد در دانشگاه لایپزیگ هستم. هفته‌ای یک بار با شما آلمانی "
                "تمرین می‌کنم: گرامر، مکالمه و آمادگی برای امتحان. جلسه‌ها در کتابخانه لیندناو "
                "یا آنلاین.",
                "fa prs de",
                "either",
                radius_km=8,
            ),
        ),
    ),
    Person(
        "Oleksandr Kovalenko",
        "uk native, ru native, de fluent, en fluent",
        "eutritzsch",
        vetting="approved",
        posts=(
            p(
                "digital",
                "Допомога з комп'ютером, смартфоном і онлайн-формами",
                "Я програміст, живу в Лейпцигу з 2014 року. Допоможу налаштувати смартфон, "
                "електронну пошту, онлайн-запис до Bürgeramt або заповнити форми на сайті "
                "Jobcenter. Можна онлайн або зустрітися в кафе.",
                "uk ru de",
                "either",
            ),
        ),
    ),
    Person(
        "Tatjana Becker",
        "ru native, de native",
        "zentrum",
        vetting="approved",
        posts=(
            p(
                "translation",
                "Помогу с переводом писем и документов",
                "Я выросла в Казахстане и уже 25 лет живу в Лейпциге. Помогу понять письма из "
                "Jobcenter, Familienkasse или от арендодателя и составить ответ на немецком. "
                "Заверенные переводы не делаю.",
                "ru de",
                "remote",
            ),
        ),
    ),
    Person(
        "Mehmet Yıldız",
        "tr native, de native, kmr basic",
        "volkmarsdorf",
        vetting="approved",
        posts=(
            p(
                "work",
                "İş başvurusu ve özgeçmiş hazırlamada yardım",
                "Leipzig'de doğdum, bir lojistik firmasının insan kaynakları bölümünde "
                "çalışıyorum. Almanca özgeçmiş (Lebenslauf), ön yazı ve iş görüşmesine hazırlık "
                "konusunda yardımcı olabilirim. Türkçe, Almanca ve biraz Kürtçe konuşuyorum.",
                "tr de kmr",
                "either",
            ),
        ),
    ),
    Person(
        "Anna Lehmann",
        "de native, en fluent",
        "connewitz",
        vetting="approved",
        certificate=True,
        posts=(
            p(
                "language-tandem",
                "Sprachtandem Deutsch–Englisch in Connewitz",
                "Ich möchte mein Englisch auffrischen und helfe dafür gern beim Deutschlernen. "
                "Wir treffen uns einmal pro Woche auf einen Kaffee oder gehen im Auwald "
                "spazieren: eine halbe Stunde Deutsch, eine halbe Stunde Englisch.",
                "de en",
                radius_km=6,
            ),
        ),
    ),
    Person(
        "Thomas Wagner",
        "de native, en basic",
        "gruenau",
        vetting="approved",
        posts=(
            p(
                "goods",
                "Kinderbett mit Matratze und Kinderwagen abzugeben",
                "Unsere Kinder sind aus dem Gröbsten raus. Abzugeben: Kinderbett 70×140 mit "
                "Matratze, ein Kinderwagen (gebraucht, gut erhalten) und eine Kiste Babykleidung "
                "Gr. 62–74. Abholung in Grünau, bei Bedarf bringe ich es vorbei.",
                "de en",
                radius_km=15,
            ),
            p(
                "transport",
                "Fahrten zu Terminen mit dem Auto (Leipzig-West)",
                "Ich fahre Menschen, die schlecht zu Fuß sind oder viel tragen müssen, zu "
                "Terminen: Arzt, Amt, Möbelabholung. Meistens vormittags unter der Woche.",
                "de",
                radius_km=12,
            ),
        ),
    ),
    Person(
        "Semhar Tesfay",
        "ti native, am fluent, de fluent, en fluent",
        "schoenefeld",
        vetting="approved",
        posts=(
            p(
                "accompaniment",
                "ብትግርኛ ሓገዝ – Begleitung auf Tigrinya und Amharisch",
                "ሰላም! ብትግርኛን ብጀርመንኛን ክሕግዘኩም እኽእል እየ። Ich bin 2016 aus Eritrea "
                "gekommen und arbeite heute als Sozialassistentin. Ich begleite zu Terminen bei "
                "Ämtern, Schulen oder Ärzten und übersetze zwischen Tigrinya, Amharisch und "
                "Deutsch.",
                "ti am de",
            ),
        ),
    ),
    Person(
        "Felix Schmidt",
        "de native, en fluent",
        "suedvorstadt",
        vetting="approved",
        posts=(
            p(
                "leisure",
                "Gemeinsam laufen im Clara-Zetkin-Park",
                "Ich laufe jeden Sonntag um 10 Uhr eine lockere Runde (etwa 5 km) im "
                "Clara-Zetkin-Park und freue mich über Mitläuferinnen und Mitläufer. Kein "
                "Leistungsdruck, danach gibt es Kaffee.",
                "de en",
            ),
        ),
    ),
    Person(
        "Hannah Vogel",
        "de native, fr fluent, en fluent",
        "gohlis",
        vetting="approved",
        certificate=True,
        posts=(
            p(
                "education",
                "Schulanmeldung und Ausbildungssuche: ich helfe",
                "Ich bin Sozialpädagogin an einer Oberschule. Ich erkläre das sächsische "
                "Schulsystem, helfe bei der Schulanmeldung und bei der Suche nach einem "
                "Ausbildungsplatz. Gern auch auf Französisch.",
                "de fr en",
                "either",
            ),
        ),
    ),
    Person(
        "Karim Benali",
        "ar native, fr fluent, de fluent",
        "volkmarsdorf",
        vetting="approved",
        posts=(
            p(
                "leisure",
                "Fußball am Sonntag – alle sind willkommen",
                "Jeden Sonntag um 15 Uhr spielen wir auf dem Bolzplatz am Rabet Fußball. Egal "
                "wie gut du spielst, komm einfach vorbei. نلعب كرة القدم كل يوم أحد الساعة "
                "الثالثة في حديقة رابت. الجميع مرحّب بهم!",
                "de ar fr",
            ),
        ),
    ),
    Person(
        "Ingrid Meyer",
        "de native, en basic",
        "halle-paulusviertel",
        vetting="approved",
        certificate=True,
        posts=(
            p(
                "language",
                "Deutsch üben beim Kaffee – für Anfänger (A1/A2)",
                "Ich bin pensionierte Grundschullehrerin. Jeden Donnerstag von 15 bis 17 Uhr "
                "sitze ich in einem Café im Paulusviertel und übe mit Ihnen Alltagsdeutsch: "
                "Einkaufen, Arzt, Termine. Ganz ohne Prüfungsstress.",
                "de",
                radius_km=8,
            ),
        ),
    ),
    Person(
        "Dmytro Shevchenko",
        "uk native, ru fluent, en fluent, de basic",
        "halle-neustadt",
        vetting="approved",
        posts=(
            p(
                "transport",
                "Допоможу з переїздом у Галле, є бус",
                "Маю мікроавтобус і вільні вихідні. Допоможу перевезти меблі, техніку або речі "
                "з Kleiderkammer у межах Галле та околиць. Хто ще допоможе носити — домовимося.",
                "uk ru en",
                radius_km=20,
            ),
        ),
    ),
    Person(
        "Fatma Demir",
        "tr native, de native, en fluent",
        "paunsdorf",
        vetting="approved",
        posts=(
            p(
                "health",
                "Sağlık sigortası ve doktor randevusu konusunda yardım",
                "Leipzig'de eczacı olarak çalışıyorum. Sağlık sigortası (Krankenkasse), sevk "
                "kağıdı (Überweisung), ilaçlar ve doktor randevusu alma konusunda sorularınızı "
                "yanıtlayabilirim. Telefonla veya görüntülü görüşmeyle.",
                "tr de",
                "remote",
            ),
        ),
    ),
    Person(
        "Paul Krause",
        "de native, en fluent",
        "plagwitz",
        vetting="approved",
        posts=(
            p(
                "digital",
                "Hilfe bei Online-Terminen, E-Mail und Apps – per Video",
                "Ich bin Informatiker und helfe per Videoanruf: Online-Termine bei der "
                "Ausländerbehörde buchen, ein E-Mail-Konto einrichten, Dokumente scannen und "
                "hochladen, Online-Banking einrichten.",
                "de en",
                "remote",
            ),
        ),
    ),
    Person(
        "Miriam Schulz",
        "de native, en fluent, ar basic",
        "stoetteritz",
        vetting="approved",
        posts=(
            p(
                "housing",
                "Unterstützung bei der Wohnungssuche",
                "Wohnungssuche in Leipzig ist schwer, allein noch schwerer. Ich helfe beim "
                "Durchsehen von Anzeigen, beim Schreiben an Vermieter, bei der Bewerbungsmappe "
                "(Schufa, Einkommensnachweis, Mietschuldenfreiheit) und komme zu Besichtigungen "
                "mit.",
                "de en",
                "either",
            ),
        ),
    ),
    Person(
        "Reza Ahmadi",
        "fa native, prs fluent, de fluent, en basic",
        "moeckern",
        vetting="approved",
        posts=(
            p(
                "housing",
                "کمک در پیدا کردن خانه در لایپزیگ",
                "من معمار هستم و ده سال است در لایپزیگ زندگی می‌کنم. در جستجوی آگهی‌ها، نوشتن "
                "نامه به صاحبخانه به زبان آلمانی و رفتن به بازدید خانه همراهتان هستم. قرارداد "
                "اجاره را هم برایتان توضیح می‌دهم.",
                "fa prs de",
                "either",
            ),
        ),
    ),
    Person(
        "Katharina Wolf",
        "de native, ru fluent, uk basic",
        "gohlis",
        vetting="approved",
        certificate=True,
        posts=(
            p(
                "childcare",
                "Kinderbetreuung während Behördenterminen",
                "Wenn Sie einen Termin haben und Ihre Kinder nicht mitnehmen können, passe ich "
                "auf, bei Ihnen zu Hause oder auf dem Spielplatz. Ich spreche Russisch und etwas "
                "Ukrainisch. Erweitertes Führungszeugnis liegt vor.",
                "de ru uk",
                radius_km=6,
            ),
        ),
    ),
    Person(
        "Yusuf Kaya",
        "tr native, de native, ar basic",
        "schoenefeld",
        vetting="approved",
        posts=(
            p(
                "mentoring",
                "Mentor für junge Leute auf dem Weg in die Ausbildung",
                "Ich bin Kfz-Meister und habe selbst über Umwege meinen Beruf gefunden. Ich "
                "begleite junge Menschen ein halbes Jahr lang: Bewerbungen, Praktikum, "
                "Berufsschule, Durchhalten. Wir treffen uns alle zwei Wochen.",
                "de tr",
            ),
        ),
    ),
    Person(
        "Julia Zimmermann",
        "de native, en fluent, es fluent",
        "halle-zentrum",
        vetting="approved",
        certificate=True,
        posts=(
            p(
                "education-homework",
                "Hausaufgabenhilfe Englisch und Spanisch in Halle",
                "Ich studiere Anglistik an der Martin-Luther-Universität und helfe Schülerinnen "
                "und Schülern ab Klasse 5 bei den Hausaufgaben, vor allem in Englisch. "
                "Führungszeugnis liegt vor.",
                "de en es",
                "either",
            ),
        ),
    ),
    Person(
        "Farid Sultani",
        "prs native, ps fluent, fa fluent, de fluent",
        "lindenau",
        vetting="approved",
        posts=(
            p(
                "translation",
                "ترجمه نامه‌ها از آلمانی به دری و پشتو",
                "من از سال ۲۰۱۵ در لایپزیگ زندگی می‌کنم و ترجمان هستم. نامه‌های اداره‌ها را "
                "برایتان ترجمه و توضیح می‌دهم و در نوشتن جواب کمک می‌کنم. حضوری یا از طریق "
                "تماس تصویری.",
                "prs fa ps de",
                "either",
            ),
        ),
    ),
    Person(
        "Martin Fischer",
        "de native",
        "paunsdorf",
        vetting="approved",
        posts=(
            p(
                "goods",
                "Reparierte Fahrräder zu verschenken",
                "In meiner Garagenwerkstatt mache ich gespendete Fahrräder wieder fit. Gerade "
                "stehen vier Erwachsenenräder und zwei Kinderräder bereit, mit Schloss und "
                "Licht. Abholung in Paunsdorf, eine kurze Einführung in die Verkehrsregeln gibt "
                "es dazu.",
                "de",
                radius_km=15,
            ),
        ),
    ),
    Person(
        "Lisa Hartmann",
        "de native, en fluent",
        "zentrum",
        vetting="approved",
        posts=(
            p(
                "leisure",
                "Stadtspaziergänge und Museumsbesuche in Leipzig",
                "Ich zeige euch Leipzig: Museen, Parks, Bibliotheken und wo man mit wenig Geld "
                "Freizeit verbringen kann (Tipp: der Leipzig-Pass). Gern auch mit Kindern.",
                "de en",
            ),
        ),
    ),
    Person(
        "Nadia Haddad",
        "ar native, de fluent, en fluent, fr basic",
        "suedvorstadt",
        vetting="approved",
        certificate=True,
        posts=(
            p(
                "education",
                "مساعدة في التقديم للجامعة والاعتراف بالشهادات",
                "درست الصيدلة في دمشق وأكملت دراستي في لايبزيغ. أساعدك في معرفة خطوات الاعتراف "
                "بشهادتك، والتسجيل في دورات اللغة للجامعة، والتقديم عبر uni-assist.",
                "ar de en",
                "either",
            ),
        ),
    ),
    Person(
        "Stefan Braun",
        "de native, en basic",
        "halle-suedstadt",
        vetting="approved",
        posts=(
            p(
                "work",
                "Jobsuche im Handwerk: Praktikum, Ausbildung, Arbeit",
                "Ich bin Elektromeister mit eigenem Betrieb in Halle und kenne viele "
                "Handwerksbetriebe in der Region. Ich helfe bei der Suche nach Praktikum oder "
                "Ausbildung und erkläre, wie Bewerbungen im Handwerk laufen.",
                "de",
                radius_km=25,
            ),
        ),
    ),
    Person(
        "Olena Bondarenko",
        "uk native, ru fluent, de fluent, en fluent",
        "halle-neustadt",
        vetting="approved",
        certificate=True,
        posts=(
            p(
                "education-homework",
                "Допомога з домашніми завданнями для українських дітей",
                "Я вчителька початкових класів з Києва, зараз працюю асистенткою в школі в Галле. "
                "Допомагаю дітям з домашніми завданнями з німецької та математики, українською "
                "або німецькою. Маю розширену довідку про несудимість (erweitertes "
                "Führungszeugnis).",
                "uk de ru",
                radius_km=8,
            ),
        ),
    ),
    Person(
        "Christian Lange",
        "de native, en fluent",
        "eutritzsch",
        vetting="approved",
        posts=(
            p(
                "accompaniment-doctor",
                "Begleitung zu Arztterminen im Leipziger Norden",
                "Ich bin Rettungssanitäter und begleite Sie zu Arztterminen oder ins Krankenhaus, "
                "helfe bei Formularen und erkläre Fachbegriffe in einfacher Sprache. Auch auf "
                "Englisch.",
                "de en",
            ),
        ),
    ),
    # Approved, but her police certificate ran out: her childcare offer is public and unmatched.
    Person(
        "Monika Seidel",
        "de native",
        "leutzsch",
        vetting="expired",
        posts=(
            p(
                "childcare",
                "Leihoma: stundenweise Kinderbetreuung",
                "Ich bin 67, habe drei Enkel in Hamburg und vermisse sie sehr. Ich passe gern "
                "stundenweise auf Kinder auf, lese vor und gehe mit auf den Spielplatz. Leutzsch "
                "und Umgebung.",
                "de",
                radius_km=5,
            ),
        ),
    ),
    # Still waiting for vetting: their offers wait in review.
    Person(
        "Ali Rezaei",
        "fa native, de fluent, en fluent",
        "connewitz",
        vetting="pending",
        posts=(
            p(
                "accompaniment-authorities",
                "همراهی به اداره‌ها و ترجمه در قرار ملاقات",
                "دوازده سال است در لایپزیگ زندگی می‌کنم. اگر در اداره کار، جاب‌سنتر یا اداره "
                "اتباع خارجی قرار ملاقات دارید، همراهتان می‌آیم و ترجمه می‌کنم.",
                "fa prs de",
            ),
        ),
    ),
    Person(
        "Johanna Köhler",
        "de native, en fluent, it basic",
        "reudnitz",
        vetting="pending",
        posts=(
            p(
                "leisure",
                "Gemeinsam kochen im Stadtteilladen",
                "Einmal im Monat koche ich im Stadtteilladen in Reudnitz mit allen, die Lust "
                "haben. Alle bringen ein Rezept aus ihrer Heimat mit, wir kaufen zusammen ein "
                "und essen gemeinsam.",
                "de en it",
            ),
        ),
    ),
    Person(
        "Viktoriia Melnyk",
        "uk native, ru fluent, en fluent, de basic",
        "mockau",
        vetting="pending",
        posts=(
            p(
                "goods",
                "Віддам дитячий одяг і взуття (0–3 роки)",
                "Мої діти виросли, тому безкоштовно віддам пакети з дитячим одягом розмірів "
                "56–98, зимовий комбінезон і черевики 22–24. Забрати можна в Мокау.",
                "uk ru",
            ),
        ),
    ),
    Person(
        "Niklas Baumann",
        "de native, en fluent",
        "halle-giebichenstein",
        vetting="pending",
        posts=(
            p(
                "transport",
                "Fahrdienst zu Terminen in Halle und im Saalekreis",
                "Ich habe ein Auto und dienstags und freitags Zeit. Ich fahre zu Terminen, die "
                "mit Bus und Bahn schwer zu erreichen sind, zum Beispiel Kliniken oder Behörden "
                "im Saalekreis.",
                "de en",
                radius_km=30,
            ),
        ),
    ),
    Person(
        "Samir Khalil",
        "ar native, de fluent, en fluent",
        "moeckern",
        vetting="pending",
        posts=(
            p(
                "work",
                "مساعدة في كتابة السيرة الذاتية ورسالة التقديم",
                "أعمل مهندس برمجيات في لايبزيغ. أساعدك في كتابة السيرة الذاتية باللغة الألمانية "
                "ورسالة التحفيز، وأتدرّب معك على مقابلة العمل.",
                "ar de en",
                "either",
            ),
        ),
    ),
    Person("Kevin Pohl", "de native", "leutzsch", vetting="rejected"),
)

SEEKERS: tuple[Person, ...] = (
    Person(
        "Ahmad Rahimi",
        "prs native, fa fluent, de basic, en basic",
        "volkmarsdorf",
        email=SEEKER_EMAIL,
        posts=(
            p(
                "accompaniment-authorities",
                "همراهی به اداره اتباع خارجی (Ausländerbehörde)",
                "سلام، من احمد هستم و هشت ماه است در لایپزیگ زندگی می‌کنم. برای تمدید اقامتم در "
                "اداره اتباع خارجی قرار ملاقات دارم و آلمانی‌ام هنوز خوب نیست. به کسی نیاز دارم "
                "که با من بیاید و کمک کند.",
                "prs fa de",
            ),
            p(
                "language-tandem",
                "Tandem: Deutsch gegen Dari/Persisch",
                "Ich lerne Deutsch im B1-Kurs und möchte mehr sprechen. Ich kann dafür Dari und "
                "Persisch beibringen. Gern einmal pro Woche im Café oder per Video.",
                "de fa prs",
                "either",
            ),
        ),
    ),
    Person(
        "Rasha Al-Hamwi",
        "ar native, de basic, en basic",
        "gruenau",
        posts=(
            p(
                "housing",
                "أبحث عن شقة لعائلة من أربعة أفراد",
                "نحن عائلة من سوريا: أنا وزوجي وطفلان (٦ و٩ سنوات). نعيش حالياً في سكن مشترك في "
                "غرونآو ونبحث عن شقة من ثلاث غرف في لايبزيغ. الجوب سنتر يدفع الإيجار. نحتاج "
                "مساعدة في البحث والتواصل مع المؤجرين.",
                "ar de",
            ),
            p(
                "education",
                "تسجيل ابنتي في مدرسة ابتدائية جديدة",
                "سننتقل قريباً إلى حي آخر ونحتاج مساعدة في تسجيل ابنتنا في مدرسة ابتدائية جديدة "
                "وفهم الأوراق المطلوبة.",
                "ar de",
            ),
        ),
    ),
    Person(
        "Mohammed Al-Ahmad",
        "ar native, de basic, en basic",
        "paunsdorf",
        posts=(
            p(
                "work",
                "أبحث عن تدريب مهني في مجال الكهرباء",
                "عمري ٢٣ سنة، وكنت أعمل مع والدي في الكهرباء في حلب. أنهيت دورة الاندماج (B1) "
                "وأريد أن أبدأ تدريباً مهنياً (Ausbildung) كفني كهرباء. أحتاج مساعدة في البحث عن "
                "شركة وفي كتابة الطلب.",
                "ar de",
            ),
            p(
                "translation",
                "ترجمة شهادة الثانوية إلى الألمانية",
                "أحتاج ترجمة شهادة البكالوريا السورية للتقديم على التدريب المهني. هل يمكن أن "
                "يساعدني أحد في فهم الخطوات وأين أجد مترجماً محلّفاً؟",
                "ar de",
                "remote",
            ),
        ),
    ),
    Person(
        "Hodan Abdi",
        "so native, en fluent, ar basic, de basic",
        "mockau",
        posts=(
            p(
                "accompaniment-doctor",
                "Looking for someone to come with me to the gynaecologist",
                "I am five months pregnant and my German is not yet good enough for the "
                "appointments. I speak Somali and English. I am looking for a woman who can come "
                "with me and help me understand. The practice is in the north of Leipzig.",
                "en so",
            ),
        ),
    ),
    Person(
        "Oksana Tkachenko",
        "uk native, ru fluent, de basic, en basic",
        "gohlis",
        posts=(
            p(
                "language-tandem",
                "Шукаю тандем-партнера для німецької",
                "Привіт! Я із Запоріжжя, живу в Лейпцигу півтора року, зараз вчуся на курсі B1. "
                "Шукаю людину, з якою можна говорити німецькою раз на тиждень. Можу навчити "
                "української або допомогти з англійською.",
                "uk de",
                "either",
            ),
        ),
    ),
    Person(
        "Iryna Savchenko",
        "uk native, ru fluent, en basic",
        "schoenefeld",
        posts=(
            p(
                "childcare",
                "Потрібна няня для доньки (4 роки) двічі на тиждень",
                "Я відвідую інтеграційний курс у вівторок і четвер з 8:30 до 12:30, а місця в "
                "дитсадку ще немає. Шукаю людину, яка могла б побути з донькою в ці години. Вона "
                "трохи розуміє німецьку.",
                "uk ru de",
                radius_km=4,
            ),
        ),
    ),
    Person(
        "Natalia Morozova",
        "ru native, uk fluent, de basic",
        "halle-suedstadt",
        posts=(
            p(
                "accompaniment-doctor",
                "Нужна помощь с переводом у кардиолога",
                "Мне 64 года, я из Харькова. У меня направление к кардиологу в университетскую "
                "клинику Галле, но я плохо понимаю немецкий. Ищу человека, который пойдёт со мной "
                "на приём и поможет с переводом.",
                "ru uk de",
            ),
        ),
    ),
    Person(
        "Yonas Tesfamariam",
        "ti native, am fluent, en basic, de basic",
        "zentrum",
        posts=(
            p(
                "accompaniment-authorities",
                "ናብ ጆብሰንተር ዝሰንየኒ ሰብ ይደሊ ኣለኹ – Begleitung zum Jobcenter",
                "ሰላም! ኣብ ላይፕዚግ ሓድሽ እየ። Ich habe einen Termin beim Jobcenter Leipzig-Mitte "
                "und verstehe die Briefe nicht gut. Ich spreche Tigrinya, Amharisch und ein "
                "bisschen Englisch.",
                "ti am de en",
            ),
            p(
                "language",
                "Deutschkurs am Abend gesucht (A2)",
                "Ich arbeite tagsüber in einer Bäckerei und suche einen Deutschkurs oder eine "
                "Lerngruppe am Abend oder am Wochenende.",
                "de en ti",
                "either",
            ),
        ),
    ),
    Person(
        "Selam Haile",
        "ti native, en fluent, de basic",
        "schoenefeld",
        posts=(
            p(
                "education-homework",
                "Homework help for my son (3rd grade)",
                "My son Mussie is 9 and in 3rd grade at a primary school in Schönefeld. He needs "
                "help with reading and maths homework, maybe twice a week after school. ውላደይ "
                "ሓገዝ የድልዮ።",
                "en ti de",
            ),
        ),
    ),
    Person(
        "Gulnaz Azimi",
        "prs native, ps basic, de basic",
        "lindenau",
        posts=(
            p(
                "health",
                "دنبال داکتر زنانه هستم که دری یا فارسی بلد باشد",
                "من سه ماه است که در لایپزیگ هستم. برای معاینه به داکتر زنانه نیاز دارم. لطفاً "
                "کسی کمک کند که داکتری پیدا کنم که فارسی یا دری صحبت کند، یا همراهم بیاید.",
                "prs fa",
            ),
        ),
    ),
    Person(
        "Hamid Karimi",
        "prs native, fa fluent, ps fluent, de basic",
        "halle-neustadt",
        posts=(
            p(
                "work",
                "Suche Arbeit in der Küche (5 Jahre Erfahrung als Koch)",
                "Ich war in Kabul fünf Jahre Koch in einem Restaurant. Ich habe eine "
                "Arbeitserlaubnis und suche Arbeit in einer Küche in Halle. Ich brauche Hilfe "
                "beim Lebenslauf. من آشپز هستم و دنبال کار در آشپزخانه هستم.",
                "de prs fa",
            ),
        ),
    ),
    Person(
        "Shirin Mohammadi",
        "fa native, en fluent, de basic",
        "suedvorstadt",
        posts=(
            p(
                "education",
                "Help with recognition of my engineering degree",
                "I studied civil engineering in Tehran and worked for six years. I want my degree "
                "recognised in Germany (Anerkennung) so that I can work as an engineer. Who knows "
                "the procedure in Saxony and can help me with the documents?",
                "en fa",
                "either",
            ),
        ),
    ),
    Person(
        "Ayşe Çelik",
        "tr native, de basic",
        "volkmarsdorf",
        posts=(
            p(
                "childcare",
                "Almanca kursu sırasında çocuğum için bakıcı arıyorum",
                "Oğlum 2 yaşında, kreşte henüz yer yok. Pazartesi ve çarşamba sabahları Almanca "
                "kursuna gidiyorum. Bu saatlerde oğluma bakabilecek güvenilir birini arıyorum.",
                "tr de",
                radius_km=3,
            ),
        ),
    ),
    Person(
        "Mustafa Öztürk",
        "tr native, ar basic, de basic",
        "reudnitz",
        posts=(
            p(
                "digital",
                "Telefondan online randevu almak için yardım",
                "Yabancılar Dairesi'nden (Ausländerbehörde) online randevu almam gerekiyor ama "
                "sitede kayboluyorum. E-posta hesabımı ve telefonumu kurmama da yardım edebilecek "
                "biri var mı?",
                "tr de",
                "either",
            ),
        ),
    ),
    Person(
        "Xalida Murad",
        "kmr native, ar fluent, de basic",
        "gruenau",
        posts=(
            p(
                "translation",
                "Brief von der Familienkasse verstehen (Kurmancî/Arabisch)",
                "Ich habe einen Brief von der Familienkasse bekommen und verstehe nicht, welche "
                "Unterlagen ich schicken muss. Ich spreche Kurmancî und Arabisch. Hilfe per "
                "Telefon oder persönlich in Grünau.",
                "de kmr ar",
                "either",
            ),
        ),
    ),
    Person(
        "Bilal Hussein",
        "ar native, en basic",
        "paunsdorf",
        posts=(
            p(
                "transport",
                "أحتاج مساعدة في نقل الأثاث إلى الشقة الجديدة",
                "حصلنا أخيراً على شقة في باونسدورف! نحتاج مساعدة يوم السبت القادم في نقل بعض "
                "الأثاث (كنبة، خزانة، غسالة) من غرونآو إلى الشقة الجديدة. ليست لدينا سيارة.",
                "ar en de",
            ),
        ),
    ),
    Person(
        "Daniel Tekle",
        "ti native, en fluent",
        "eutritzsch",
        posts=(
            p(
                "leisure",
                "Looking for a football team to play with",
                "I am 19 and played football in Asmara. I would like to join a team or a group "
                "that plays regularly in Leipzig. I can play in the evenings and at weekends.",
                "en ti",
            ),
        ),
    ),
    Person(
        "Abdullah Safi",
        "ps native, prs fluent, de basic",
        "moeckern",
        posts=(
            p(
                "accompaniment",
                "Begleitung zum Elterngespräch in der Schule",
                "Die Lehrerin von meiner Tochter möchte mit mir sprechen. Mein Deutsch ist noch "
                "nicht gut. Ich suche jemand, der mitkommt und hilft. Ich spreche Paschtu und "
                "Dari.",
                "de ps prs",
            ),
        ),
    ),
    Person(
        "Marwa Al-Saleh",
        "ar native, en fluent",
        "mockau",
        posts=(
            p(
                "goods",
                "أحتاج عربة أطفال وسرير طفل",
                "أنتظر طفلي الأول في الشهر القادم. نبحث عن عربة أطفال وسرير طفل مستعملين بحالة "
                "جيدة. يمكننا استلامهما من أي مكان في لايبزيغ.",
                "ar en",
                radius_km=15,
            ),
        ),
    ),
    Person(
        "Yana Lysenko",
        "uk native, ru fluent, en fluent, de basic",
        "halle-zentrum",
        posts=(
            p(
                "work",
                "Шукаю роботу бухгалтеркою або офіс-асистенткою",
                "Я бухгалтерка з десятирічним досвідом (Дніпро). Зараз маю рівень німецької B1 і "
                "шукаю роботу або стажування (Praktikum) в офісі в Галле чи Лейпцигу. Потрібна "
                "допомога з резюме німецькою та порада, де шукати.",
                "uk en de",
                "either",
            ),
        ),
    ),
    Person(
        "Andrii Hnatiuk",
        "uk native, ru fluent, de basic",
        "halle-suedstadt",
        posts=(
            p(
                "housing",
                "Шукаємо квартиру в Галле для сім'ї з трьох осіб",
                "Ми з дружиною і сином (12 років) живемо в гуртожитку. Шукаємо дво- або "
                "трикімнатну квартиру в Галле, оренду оплачує Jobcenter. Потрібна допомога з "
                "пошуком і листуванням з орендодавцями.",
                "uk ru de",
            ),
        ),
    ),
    Person(
        "Svitlana Petrenko",
        "uk native, ru native",
        "gruenau",
        posts=(
            p(
                "digital",
                "Навчіть, будь ласка, користуватися смартфоном",
                "Мені 71 рік. Онука подарувала смартфон, але я не вмію дзвонити по відео, читати "
                "пошту і користуватися перекладачем. Шукаю терплячу людину, яка покаже, бажано "
                "українською або російською.",
                "uk ru",
            ),
        ),
    ),
    Person(
        "Kateryna Ivanova",
        "uk native, ru fluent, en basic",
        "halle-neustadt",
        posts=(
            p(
                "education-homework",
                "Допомога з німецькою для сина, 7 клас",
                "Мій син Максим (13 років) уже рік навчається в гімназії в Галле. З математикою "
                "все добре, а з німецькою важко. Шукаю волонтера, який допомагав би з домашніми "
                "завданнями двічі на тиждень.",
                "uk de",
            ),
        ),
    ),
    Person(
        "Zahra Hashemi",
        "prs native, fa fluent, de basic",
        "volkmarsdorf",
        posts=(
            p(
                "language",
                "کورس زبان آلمانی برای زنان با نگهداری از کودک",
                "من دو کودک کوچک دارم و نمی‌توانم به کورس عادی بروم. دنبال کورس زبان آلمانی "
                "برای زنان هستم که در همان جا از کودکان هم نگهداری شود.",
                "prs fa de",
            ),
        ),
    ),
    Person(
        "Khaled Nasser",
        "ar native, en fluent, de basic",
        "zentrum",
        posts=(
            p(
                "mentoring",
                "أبحث عن مرشد لبدء مشروع صغير (مطعم)",
                "كنت أملك مطعماً صغيراً في حمص. أريد أن أفتح مطعماً أو كشكاً للطعام في لايبزيغ، "
                "لكنني لا أعرف القوانين: التسجيل والضرائب وشهادة الصحة. أبحث عن شخص ذي خبرة "
                "يرافقني خطوة بخطوة.",
                "ar en de",
                "either",
            ),
        ),
    ),
    Person(
        "Meron Girma",
        "am native, ti basic, en fluent",
        "eutritzsch",
        posts=(
            p(
                "health",
                "Looking for a therapist who speaks English",
                "Since I came to Germany I have had trouble sleeping and feel very stressed. My "
                "doctor said I should see a psychotherapist, but the waiting lists are long. Who "
                "can help me find a therapist or a counselling service in English or Amharic?",
                "en am",
                "either",
            ),
        ),
    ),
    Person(
        "Emre Aslan",
        "tr native, en fluent, de basic",
        "connewitz",
        posts=(
            p(
                "housing",
                "Leipzig'de WG odası arıyorum",
                "İstanbul'dan yeni geldim, Leipzig Üniversitesi'nde yüksek lisans yapıyorum. Şu an "
                "bir arkadaşımın yanında kalıyorum ve bir WG odası arıyorum. Almanca ilanları "
                "anlamak ve başvuru yazmak için yardıma ihtiyacım var.",
                "tr en",
            ),
        ),
    ),
    Person(
        "Nour Jaber",
        "ar native, en fluent",
        "stoetteritz",
        posts=(
            p(
                "leisure",
                "أبحث عن نشاط رياضي للنساء (سباحة)",
                "أريد أن أتعلم السباحة وأبحث عن دورة أو مجموعة للنساء فقط في لايبزيغ. هل يمكن "
                "لأحد أن يساعدني في إيجاد مكان ويرافقني في المرة الأولى؟",
                "ar en",
            ),
        ),
    ),
    Person(
        "Rebin Kamal",
        "ckb native, ar fluent, en basic, de basic",
        "halle-freiimfelde",
        posts=(
            p(
                "accompaniment-authorities",
                "Begleitung zur Ausländerbehörde Halle",
                "Ich muss meinen Aufenthaltstitel verlängern und habe einen Termin bei der "
                "Ausländerbehörde Halle. Ich spreche Sorani-Kurdisch und Arabisch, Deutsch nur ein "
                "bisschen.",
                "de ar ckb",
            ),
        ),
    ),
    Person(
        "Carla Mendoza",
        "es native, en fluent, de basic",
        "plagwitz",
        posts=(
            p(
                "language-tandem",
                "Busco tándem español–alemán",
                "¡Hola! Soy de Caracas y vivo en Leipzig desde hace un año. Busco a alguien para "
                "practicar alemán una vez por semana; a cambio te ayudo con tu español. Podemos "
                "vernos en Plagwitz o por videollamada.",
                "es de en",
                "either",
            ),
        ),
    ),
    Person(
        "Parwin Jafari",
        "prs native, fa fluent",
        "schoenefeld",
        posts=(
            p(
                "goods",
                "به یک ماشین لباسشویی نیاز داریم",
                "ما یک خانواده پنج نفره هستیم و تازه به خانه جدید رفته‌ایم. ماشین لباسشویی "
                "نداریم. اگر کسی ماشین لباسشویی کارکرده دارد، خیلی ممنون می‌شویم.",
                "prs fa",
                radius_km=15,
            ),
        ),
    ),
)

ORGANISATIONS: tuple[DemoOrganisation, ...] = (
    DemoOrganisation(
        "Willkommen in Leipzig e.V.",
        "https://willkommen-in-leipzig.example",
        "Fiktiver Verein (Demodaten): Beratung und Begleitung für neu angekommene Familien im "
        "Leipziger Osten.",
        True,
        Person(
            "Katrin Weber",
            "de native, en fluent, ar basic",
            "volkmarsdorf",
            email=ORGANISATION_EMAIL,
            posts=(
                p(
                    "mentoring",
                    "Lotsinnen und Lotsen für neu angekommene Familien",
                    "Unser Lotsenprogramm bringt Ehrenamtliche und neu angekommene Familien für sechs "
                    "Monate zusammen: Ankommen im Stadtteil, Briefe, Kita- und Schulsuche, Ämter. Wir "
                    "bereiten Sie an zwei Schulungsabenden vor und begleiten Sie mit monatlichen "
                    "Treffen. Zeitaufwand etwa zwei Stunden pro Woche.",
                    "de en ar",
                    seats=8,
                ),
                p(
                    "translation",
                    "Sprachmittlung Arabisch–Deutsch für Elternabende",
                    "An zwei Grundschulen im Leipziger Osten finden im nächsten Monat Elternabende "
                    "statt. Wir suchen Menschen, die zwischen Arabisch und Deutsch dolmetschen, "
                    "jeweils etwa 90 Minuten am frühen Abend.",
                    "de ar",
                ),
                p(
                    "goods",
                    "Winterjacken und Kinderschuhe für unsere Kleiderkammer",
                    "Für die Kleiderkammer brauchen wir dringend Winterjacken in allen Größen sowie "
                    "Kinderschuhe in Größe 25 bis 35. Abgabe dienstags und donnerstags von 10 bis 16 "
                    "Uhr in Volkmarsdorf.",
                    "de",
                    radius_km=20,
                ),
            ),
        ),
    ),
    DemoOrganisation(
        "Nachbarschaftshilfe Connewitz",
        "https://nachbarschaftshilfe-connewitz.example",
        "Fiktive Initiative (Demodaten): Nachbarinnen und Nachbarn helfen einander im "
        "Leipziger Süden.",
        True,
        Person(
            "Jonas Bergmann",
            "de native, en fluent",
            "connewitz",
            posts=(
                p(
                    "transport",
                    "Helfende Hände für einen Umzug (3. OG, kein Aufzug)",
                    "Familie N. zieht nächsten Samstag innerhalb von Connewitz um. Einen Transporter "
                    "haben wir, es fehlen aber noch drei bis vier Leute zum Tragen. Für Essen und "
                    "Getränke ist gesorgt.",
                    "de en",
                ),
                p(
                    "leisure",
                    "Trainerinnen und Trainer für Kinderfußball im Park",
                    "Jeden Mittwoch um 16:30 Uhr spielen Kinder aus der Nachbarschaft und aus der "
                    "Gemeinschaftsunterkunft zusammen Fußball. Wir suchen drei Erwachsene, die "
                    "regelmäßig das Training mit anleiten.",
                    "de en",
                    seats=3,
                ),
            ),
        ),
    ),
    DemoOrganisation(
        "Lernpaten Halle",
        "https://lernpaten-halle.example",
        "Fiktives Projekt (Demodaten): Lernpatenschaften für Kinder an Grundschulen in "
        "Halle-Neustadt.",
        True,
        Person(
            "Sabine Krüger",
            "de native, en fluent",
            "halle-neustadt",
            posts=(
                p(
                    "education-homework",
                    "Lernpatinnen und Lernpaten für Grundschulkinder in Halle-Neustadt",
                    "Einmal pro Woche eine Stunde mit einem Kind lesen, rechnen und Hausaufgaben "
                    "machen: das ist eine Lernpatenschaft. Wir vermitteln Kinder aus drei "
                    "Grundschulen, schulen Sie vorab und bleiben ansprechbar. Ein erweitertes "
                    "Führungszeugnis ist nötig; die Kosten übernehmen wir.",
                    "de",
                    seats=10,
                ),
                p(
                    "language",
                    "Ehrenamtliche für unser Deutsch-Lerncafé",
                    "Im Stadtteiltreff öffnen wir jeden Freitag von 15 bis 17 Uhr das Lerncafé. Wir "
                    "suchen Menschen, die mit Erwachsenen Deutsch sprechen, Fragen beantworten und bei "
                    "Kursaufgaben helfen.",
                    "de en",
                ),
            ),
        ),
    ),
    DemoOrganisation(
        "Frauentreff Mosaik Leipzig-Ost",
        "https://frauentreff-mosaik.example",
        "Fiktiver Treffpunkt (Demodaten): Deutschkurse, Beratung und Austausch für Frauen.",
        True,
        Person(
            "Layla Al-Khatib",
            "ar native, de fluent, en fluent",
            "reudnitz",
            posts=(
                p(
                    "childcare",
                    "Kinderbetreuung während unseres Deutschkurses für Mütter",
                    "Dienstags und donnerstags von 9 bis 12 Uhr lernen bei uns Mütter Deutsch. Damit "
                    "sie kommen können, betreuen Ehrenamtliche die Kleinkinder im Nebenraum. Wir "
                    "suchen drei Personen mit erweitertem Führungszeugnis.",
                    "de ar",
                    seats=3,
                ),
                p(
                    "health",
                    "Gesundheitsnachmittag: Ärztin oder Hebamme gesucht",
                    "Wir planen einen Nachmittag zu Schwangerschaft, Vorsorge und Krankenkasse für "
                    "Frauen aus Syrien, Afghanistan und der Ukraine. Wir suchen eine Ärztin, Hebamme "
                    "oder Pflegekraft, die Fragen beantwortet; Sprachmittlerinnen sind da.",
                    "de ar fa uk",
                ),
                p(
                    "digital",
                    "Smartphone-Sprechstunde für Frauen",
                    "Einmal im Monat helfen wir Frauen bei Apps, E-Mail, Online-Terminen und "
                    "Sicherheit am Handy. Wer kann zwei Stunden mitmachen? Arabisch oder Dari wäre "
                    "schön, Deutsch reicht auch.",
                    "de ar prs",
                ),
            ),
        ),
    ),
    DemoOrganisation(
        "Patenschaftsnetz Saalebogen e.V.",
        "https://patenschaftsnetz-saalebogen.example",
        "Fiktiver Verein (Demodaten): Patenschaften für junge Geflüchtete in Ausbildung.",
        False,
        Person(
            "Thomas Richter",
            "de native, en basic",
            "halle-giebichenstein",
            posts=(
                p(
                    "mentoring",
                    "Patinnen und Paten für junge Geflüchtete in Ausbildung",
                    "Junge Menschen in der Ausbildung brauchen jemanden, der bei Berufsschule, "
                    "Prüfungsangst und Behördenpost hilft. Als Patin oder Pate treffen Sie Ihre "
                    "Auszubildende oder Ihren Auszubildenden ein Jahr lang alle zwei Wochen.",
                    "de",
                    seats=6,
                ),
                p(
                    "work",
                    "Bewerbungstraining für Jugendliche am Samstag",
                    "Für unseren Bewerbungstag suchen wir Menschen aus Personalabteilungen oder dem "
                    "Handwerk, die Probe-Vorstellungsgespräche führen und Rückmeldung geben.",
                    "de en",
                ),
            ),
        ),
    ),
)

STAFF: tuple[tuple[str, str, str], ...] = (
    (COORDINATOR_EMAIL, "Birgit Sommer", "coordinator"),
    (ADMIN_EMAIL, "Anlauf Admin", "admin"),
)


# --------------------------------------------------------------------------------------------
# The plan: who, where and when, decided by a seeded random generator


@dataclass(frozen=True)
class PlannedPost:
    post: DemoPost
    age_days: float


@dataclass(frozen=True)
class PlannedPerson:
    person: Person
    role: str
    email: str
    display_name: str
    locale: str
    lat: float
    lon: float
    age_days: float  # when the account was made
    decided_days: float | None  # volunteers and organisations: when a coordinator decided
    posts: tuple[PlannedPost, ...]
    organisation: DemoOrganisation | None = None


def speaks(text: str) -> list[tuple[str, str]]:
    """Parse "de native, en basic" into [("de", "native"), ("en", "basic")]."""
    skills = []
    for item in text.split(","):
        code, level = item.split()
        skills.append((code, level))
    return skills


_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ı": "i"})


def email_of(person: Person) -> str:
    if person.email:
        return person.email
    folded = person.name.lower().translate(_ASCII)
    plain = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    local = ".".join(part for part in plain.replace("-", " ").split() if part)
    return f"{local}@{DEMO_DOMAIN}"


def locale_of(person: Person) -> str:
    """The first page language the person reads (Dari readers get the Persian pages)."""
    for code, _level in speaks(person.speaks):
        code = "fa" if code == "prs" else code
        if code in LOCALES:
            return code
    return "de"


def _plan_person(
    rng: random.Random,
    person: Person,
    role: str,
    *,
    display_name: str | None = None,
    organisation: DemoOrganisation | None = None,
    recent: bool = False,
) -> PlannedPerson:
    lat, lon = DISTRICTS[person.home]
    lat = round(lat + rng.uniform(-JITTER_LAT, JITTER_LAT), 6)
    lon = round(lon + rng.uniform(-JITTER_LON, JITTER_LON), 6)
    # People still waiting for review joined recently; the rest posted over the last 40 days.
    low, high = (0.3, 5.0) if recent else (0.2, 40.0)
    planned = tuple(PlannedPost(post, round(rng.uniform(low, high), 4)) for post in person.posts)
    first_post = max((pp.age_days for pp in planned), default=rng.uniform(3.0, 20.0))
    age = round(first_post + rng.uniform(1.0, 3.0 if recent else 25.0), 4)
    decided: float | None = None
    if (role == "volunteer" and person.vetting != "pending") or organisation is not None:
        # Between registering and the first post (after the approval, so it goes out at once).
        decided = round(first_post + (age - first_post) * rng.uniform(0.2, 0.6), 4)
        if person.vetting == "expired":
            decided = age = round(age + 340.0, 4)  # vetted almost a year ago
    return PlannedPerson(
        person=person,
        role=role,
        email=email_of(person),
        display_name=display_name or person.name,
        locale=locale_of(person),
        lat=lat,
        lon=lon,
        age_days=age,
        decided_days=decided,
        posts=planned,
        organisation=organisation,
    )


def _short_name(name: str) -> str:
    """Newcomers often show only a first name and an initial: "Rasha Al-Hamwi" -> "Rasha A."."""
    first, *rest = name.split()
    return f"{first} {rest[-1][0]}." if rest else first


def build_plan() -> list[PlannedPerson]:
    """Everyone with their place and times; the same on every run."""
    rng = random.Random(SEED)
    people: list[PlannedPerson] = []
    for person in VOLUNTEERS:
        people.append(_plan_person(rng, person, "volunteer", recent=person.vetting == "pending"))
    for person in SEEKERS:
        people.append(_plan_person(rng, person, "seeker", display_name=_short_name(person.name)))
    for org in ORGANISATIONS:
        people.append(
            _plan_person(rng, org.member, "organisation", organisation=org, recent=not org.approved)
        )
    return people


# --------------------------------------------------------------------------------------------
# Loading


def _subscribe_features() -> None:
    """Import the features as create_app does, so matching reacts to the demo posts as well
    (`anlauf serve --demo` loads the demo before it builds the app)."""
    from market import features

    for _route in features.api_routes():
        pass


async def _region(
    session: AsyncSession, slug: str, name: str, lat: float, lon: float, radius_km: float
) -> Region:
    found = (await session.execute(select(Region).where(Region.slug == slug))).scalar_one_or_none()
    if found is not None:
        return found
    region = Region(slug=slug, name=name, lat=lat, lon=lon, radius_km=radius_km)
    session.add(region)
    return region


def _decision_note(person: Person, until: date | None) -> str:
    if person.vetting == "rejected":
        return (
            "Zum Kennenlerngespräch zweimal nicht erschienen, Verhaltenskodex nicht unterschrieben."
        )
    note = "Ausweis gesehen, Kennenlerngespräch geführt, Verhaltenskodex unterschrieben."
    if until is not None:
        note += f" Erweitertes Führungszeugnis gültig bis {until.strftime('%d.%m.%Y')}."
    return note


async def load_demo(session: AsyncSession, settings: Settings) -> bool:
    """Fill an empty database with the demo city; False (and nothing done) if it has users."""
    if await count_users(session) > 0:
        return False
    _subscribe_features()
    now = utcnow()
    today = now.date()

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    password_hash = await hash_password(
        DEMO_PASSWORD, settings.argon2_memory_kib, settings.argon2_time_cost
    )
    for region in REGIONS:
        await _region(session, *region)

    def account(
        email: str, name: str, role: str, locale: str, created: datetime, verified: bool
    ) -> User:
        return User(
            email=email,
            password_hash=password_hash,
            display_name=name,
            role=role,
            locale=locale,
            created_at=created,
            password_changed_at=created,
            # The named demo accounts count as verified; the crowd does not, so that their
            # notifications stay in the app instead of filling the outbox with demo mail.
            email_verified_at=created + timedelta(minutes=7) if verified else None,
            vetting_status="pending" if role == "volunteer" else None,
        )

    staff: dict[str, User] = {}
    for email, name, role in STAFF:
        staff[role] = account(email, name, role, "de", ago(120), verified=True)
        session.add(staff[role])
    coordinator = staff["coordinator"]

    plan = build_plan()
    users: dict[str, User] = {}
    orgs: dict[str, Organisation] = {}
    for planned in plan:
        user = account(
            planned.email,
            planned.display_name,
            planned.role,
            planned.locale,
            ago(planned.age_days),
            verified=planned.email in DEMO_ACCOUNTS,
        )
        set_languages(user, speaks(planned.person.speaks))
        session.add(user)
        users[planned.email] = user
        if planned.organisation is not None:
            org = Organisation(
                name=planned.organisation.name,
                website=planned.organisation.website,
                description=planned.organisation.description,
                created_at=ago(planned.age_days),
            )
            session.add(org)
            orgs[planned.email] = org
    await session.flush()
    for email, org in orgs.items():
        session.add(
            OrganisationMember(
                organisation_id=org.id,
                user_id=users[email].id,
                role="owner",
                created_at=org.created_at,
            )
        )
    await session.flush()

    # Replay what happened, oldest first: vetting decisions, approvals and posts.
    timeline: list[tuple[float, int, str, PlannedPerson, DemoPost | None]] = []
    for planned in plan:
        if planned.decided_days is not None:
            timeline.append((planned.decided_days, len(timeline), "decide", planned, None))
        for pp in planned.posts:
            timeline.append((pp.age_days, len(timeline), "post", planned, pp.post))
    timeline.sort(key=lambda item: (-item[0], item[1]))

    lifetime = timedelta(days=settings.post_lifetime_days)
    for age, _seq, action, planned, demo_post in timeline:
        user = users[planned.email]
        when = ago(age)
        if action == "decide" and planned.organisation is not None:
            if planned.organisation.approved:
                await vetting.decide_organisation(
                    session,
                    settings,
                    orgs[planned.email],
                    OrganisationDecisionIn(decision="approve"),
                )
        elif action == "decide":
            person = planned.person
            until: date | None = None
            if person.certificate:
                until = today + timedelta(days=365)
            elif person.vetting == "expired":
                until = today - timedelta(days=20)
            approve = person.vetting != "rejected"
            decision = await vetting.decide_volunteer(
                session,
                settings,
                coordinator,
                user,
                VolunteerDecisionIn(
                    decision="approve" if approve else "reject",
                    checks=Checks(identity=True, interview=approve, code_of_conduct=approve),
                    police_certificate_until=until,
                    note=_decision_note(person, until),
                ),
            )
            decision.created_at = when
        elif demo_post is not None:
            post = await posts.create(
                session,
                settings,
                user,
                PostIn.model_validate(
                    {
                        "kind": "offer" if planned.role == "volunteer" else "need",
                        "category": demo_post.category,
                        "title": demo_post.title,
                        "body": demo_post.body,
                        "languages": demo_post.languages.split(),
                        "mode": demo_post.mode,
                        "location": {"lat": planned.lat, "lon": planned.lon},
                        "radius_km": demo_post.radius_km,
                        "seats": demo_post.seats,
                    }
                ),
            )
            _backdate(post, when, lifetime)
    await session.flush()
    await load_directory(session, now)
    return True


def _backdate(post: Post, when: datetime, lifetime: timedelta) -> None:
    """Move a freshly made post into the past so lists and waiting times look lived-in."""
    post.created_at = when
    post.updated_at = when  # set explicitly, or the column's onupdate would say "now"
    if post.status == "published":
        post.published_at = when
        post.expires_at = when + lifetime
