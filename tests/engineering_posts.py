"""Posts written the way people post about engineering, with their words.

Each entry is (declared languages, text, expected words). Expected words
are written by hand from docs/metrics.md#top-words: `form` for a word written in its base
form, `form>word` where the form merges into another word (`engineers>engineer`).
An empty expectation means the post qualifies but no word of it counts;
None means the post does not qualify.
"""

from __future__ import annotations

Expected = dict[str, set[str]]

POSTS: list[tuple[str, str, str | None]] = [
    # Job ads
    (
        "en",
        "Our AI research team is hiring: computer vision, ML systems. #engineering",
        "ai research team hiring>hire computer vision ml systems>system",
    ),
    (
        "en",
        "We're hiring a Senior Software Engineer to join our platform engineering team! Remote OK 🚀",
        "engineer hiring>hire join platform remote senior software team",
    ),
    (
        "en",
        "Hiring: Staff Engineer, Data Engineering. Python, Spark, Kafka. Apply: https://jobs.example.com/123",
        "hiring>hire staff engineer data python spark kafka apply",
    ),
    (
        "en",
        "Engineering manager role open at @acme.bsky.social — DM me if you want details",
        "details>detail dm manager open role",
    ),
    (
        "en",
        "Looking for engineers who love Rust and embedded systems. Engineering culture matters.",
        "culture embedded>embed engineers>engineer love matters>matter rust systems>system",
    ),
    (
        "en",
        "Our engineering org is growing: 3 backend roles, 2 SRE roles, 1 QA lead",
        "backend growing>grow lead org qa roles>role sre",
    ),
    (
        "en",
        "Junior engineering positions at a robotics startup, Boston. Salary $90k-$110k. #jobs #robotics",
        "junior positions>position robotics startup boston salary jobs>job",
    ),
    (
        "en",
        "New grad? Our engineering residency takes 12 people a year. Applications close Friday.",
        "grad residency people applications>application close friday",
    ),
    (
        "en",
        "The hiring market for engineering is brutal right now. 400 applicants per role.",
        "applicants>applicant brutal hiring>hire market right role",
    ),
    (
        "en",
        "Platform Engineering lead wanted: Kubernetes, Terraform, AWS. Hybrid in Berlin.",
        "aws berlin hybrid kubernetes lead platform terraform",
    ),
    (
        "en",
        "If you're an engineer interested in climate tech, our engineering team is hiring!",
        "climate engineer hiring>hire interested>interest team tech",
    ),
    (
        "en",
        "Mechanical engineering internship, summer 2026, CAD + FEA experience a plus",
        "mechanical internship summer cad fea experience plus",
    ),
    (
        "en",
        "we are hiring for civil engineering roles in Toronto!! bridges, tunnels, transit",
        "hiring>hire civil roles>role toronto bridges>bridge tunnels>tunnel transit",
    ),
    (
        "en",
        "Engineering Director, Payments. You will lead 5 teams building our payment systems.",
        "director payments>payment lead teams>team building payment systems>system",
    ),
    (
        "en",
        "Job alert: electrical engineering technician, night shift, great benefits",
        "job alert electrical technician night shift great benefits>benefit",
    ),
    (
        "en",
        "ENGINEERING JOBS THIS WEEK: firmware, FPGA, RF, and test engineers. Link in bio.",
        "bio engineers>engineer firmware fpga jobs link rf test week",
    ),
    (
        "en",
        "Our engineering interviews are take-home projects, no leetcode. Apply today!",
        "interviews>interview home projects>project leetcode apply today",
    ),
    (
        "en",
        "Hiring engineers in Lisbon 🇵🇹 for our engineering hub. Portuguese not required.",
        "hiring>hire engineers>engineer lisbon hub portuguese required>require",
    ),
    (
        "en",
        "Reliability engineering is a career, not a phase. We're hiring SREs.",
        "career hiring>hire phase reliability sres",
    ),
    (
        "en",
        "Seeking a Head of Engineering for a seed-stage fintech. Equity heavy.",
        "seeking>seek head seed stage fintech equity heavy",
    ),
    # Research news
    (
        "en",
        "New paper: our group shows that tissue engineering can grow functional cartilage in vitro",
        "paper group shows>show tissue grow functional cartilage vitro",
    ),
    (
        "en",
        "Breakthrough in materials engineering: a ceramic that bends without breaking. Paper in Nature.",
        "breakthrough materials>material ceramic bends>bend breaking>break paper nature",
    ),
    (
        "en",
        "Researchers at MIT used genetic engineering to make bacteria produce spider silk",
        "researchers>researcher mit genetic bacteria>bacterium produce spider silk",
    ),
    (
        "en",
        "Our lab published a dataset for software engineering research: 2M commits, open access",
        "lab published>publish dataset software research commits>commit open access",
    ),
    (
        "en",
        "Interesting study on prompt engineering: longer prompts did not improve accuracy",
        "accuracy improve interesting>interest longer>long prompt prompts>prompt study",
    ),
    (
        "en",
        "Climate engineering proposals keep getting more attention, and more criticism",
        "climate proposals>proposal keep attention criticism",
    ),
    (
        "en",
        "The engineering of the Roman aqueducts still amazes researchers 2,000 years later",
        "roman aqueducts>aqueduct amazes>amaze researchers>researcher later>late",
    ),
    (
        "en",
        "Preprint: formal verification in safety-critical engineering, lessons from avionics",
        "preprint formal verification safety critical lessons>lesson avionics",
    ),
    (
        "en",
        "Protein engineering with language models: our results replicate across 4 families",
        "protein language models>model results>result replicate families>family",
    ),
    (
        "en",
        "Grant news! 3 years of funding for our coastal engineering lab 🌊",
        "grant news funding coastal lab",
    ),
    (
        "en",
        "A survey of 500 teams finds that engineering productivity metrics mislead managers",
        "survey teams>team productivity metrics>metric mislead managers>manager",
    ),
    (
        "en",
        "Acoustic engineering result: a metamaterial that blocks 94% of sound while letting air through",
        "acoustic result metamaterial blocks>block sound air",
    ),
    (
        "en",
        "Thread on the engineering behind the James Webb telescope's sunshield 🧵",
        "thread behind james webb telescope sunshield",
    ),
    (
        "en",
        "We benchmarked 12 database engines. Engineering tradeoffs matter more than raw speed.",
        "benchmarked>benchmark database engines>engine tradeoffs>tradeoff matter raw speed",
    ),
    (
        "en",
        "Peer review in engineering journals is slow; our analysis of 10k papers",
        "peer review journals>journal slow analysis papers>paper",
    ),
    (
        "en",
        "Nuclear fusion engineering milestone: the magnet reached 20 tesla",
        "nuclear fusion milestone magnet reached>reach tesla",
    ),
    (
        "en",
        "Geotechnical engineering explains why the tower leans: soft clay under one side",
        "geotechnical explains>explain tower leans>lean soft clay side",
    ),
    (
        "en",
        "New review: reverse engineering neural circuits in the fly brain",
        "review reverse neural circuits>circuit fly brain",
    ),
    (
        "en",
        "Our conference talk on chaos engineering at scale is now online",
        "conference talk chaos scale online",
    ),
    (
        "en",
        "Biomedical engineering students built a low-cost prosthetic hand for under $50",
        "biomedical students>student built>build low cost prosthetic hand",
    ),
    # Students
    (
        "en",
        "first week of engineering school and i already have 3 problem sets due",
        "first week school problem sets>set due",
    ),
    ("en", "Failed my thermodynamics exam. Engineering is hard lol", "failed>fail thermodynamics exam hard"),
    (
        "en",
        "Should I switch from computer science to electrical engineering? Help",
        "switch computer science electrical help",
    ),
    ("en", "Engineering students at 3am: coffee, MATLAB, regret ☕", "students>student coffee matlab regret"),
    (
        "en",
        "My capstone project: an autonomous drone for crop monitoring. Engineering!!",
        "capstone project autonomous drone crop monitoring>monitor",
    ),
    ("en", "Got my engineering degree today!!! 5 years 😭🎓", "degree today"),
    (
        "en",
        "Any tips for the FE exam? Civil engineering, taking it in March",
        "tips>tip fe exam civil march",
    ),
    ("en", "studying for statics, why is engineering like this", "statics>static studying>study"),
    (
        "en",
        "Women in Engineering club meeting Thursday, pizza provided 🍕",
        "club meeting>meet pizza provided>provide thursday women>woman",
    ),
    (
        "en",
        "Our robotics team placed 2nd at regionals! So proud of these engineering kids",
        "robotics team placed>place regionals>regional proud kids>kid",
    ),
    (
        "en",
        "The engineering library is open 24/7 during finals and it shows",
        "library open finals>final shows>show",
    ),
    (
        "en",
        "I'm in second year engineering and still don't know which major to pick",
        "second major pick",
    ),
    (
        "en",
        "Internship offer from a aerospace engineering firm!!! I can't believe it",
        "internship offer aerospace firm believe",
    ),
    (
        "en",
        "Group projects in engineering: 1 person does everything, 3 people do nothing",
        "group projects>project person people",
    ),
    (
        "en",
        "Our chemical engineering lab report is due at midnight and the data makes no sense",
        "chemical lab report due midnight data sense",
    ),
    # Hobbyists
    (
        "en",
        "Weekend project: a weather station on a Raspberry Pi. Overkill engineering, zero regrets",
        "weekend project weather station raspberry overkill zero regrets>regret",
    ),
    ("en", "My 3D printer is a lesson in engineering tolerances 😅", "printer lesson tolerances>tolerance"),
    (
        "en",
        "Built a mechanical keyboard from scratch. The engineering rabbit hole is deep.",
        "built>build mechanical keyboard scratch rabbit hole deep",
    ),
    (
        "en",
        "Engineering my garden irrigation with an ESP32 and a soil sensor #gardening",
        "esp garden gardening>garden irrigation sensor soil",
    ),
    (
        "en",
        "The engineering in old mechanical watches is just beautiful",
        "old mechanical watches>watch beautiful",
    ),
    (
        "en",
        "Restoring a 1970s radio. Analog engineering was something else.",
        "restoring>restore radio analog",
    ),
    (
        "en",
        "Bike repair is basically engineering for people who like grease",
        "bike repair basically people grease",
    ),
    (
        "en",
        "Home lab update: three servers, one rack, zero sleep. #homelab engineering",
        "home lab update three servers>server rack zero sleep homelab",
    ),
    ("en", "LEGO Technic is my favorite form of engineering", "lego technic favorite form"),
    (
        "en",
        "Over-engineering a cat feeder: load cell, camera, and a web dashboard 🐈",
        "cat feeder load cell camera web dashboard",
    ),
    (
        "en",
        "Model rocketry this weekend. Amateur engineering at its finest 🚀",
        "model rocketry weekend amateur finest>fine",
    ),
    (
        "en",
        "woodworking is structural engineering with splinters",
        "woodworking structural splinters>splinter",
    ),
    (
        "en",
        "Learning soldering. My engineering skills are mostly smoke so far",
        "far learning>learn mostly skills>skill smoke soldering>solder",
    ),
    (
        "en",
        "Retro computing: the engineering of the Commodore 64 sound chip still impresses",
        "chip commodore computing impresses>impress retro sound",
    ),
    ("en", "Sound engineering tip: cut before you boost", "sound tip cut boost"),
    # Opinions and industry chatter
    (
        "en",
        "Engineering is mostly communication. The code is the easy part.",
        "mostly communication code easy part",
    ),
    ("en", "Hot take: most engineering problems are people problems", "hot problems>problem people"),
    ("en", "Good engineering means saying no to features", "features>feature means"),
    (
        "en",
        "The best engineering teams I've worked with wrote things down",
        "teams>team worked>work wrote>write",
    ),
    (
        "en",
        "AI won't replace engineering judgment. It will replace some typing.",
        "ai judgment replace typing>type",
    ),
    (
        "en",
        "Spent the day on incident review. Engineering is learning from failures.",
        "spent>spend day incident review learning>learn failures>failure",
    ),
    (
        "en",
        "Reminder that engineering ethics is a required course for a reason",
        "reminder ethics required>require course reason",
    ),
    ("en", "Software engineering is not computer science, and that's fine", "software computer science fine"),
    (
        "en",
        "Our engineering blog post on migrating to Postgres: https://blog.example.com/pg",
        "blog post migrating>migrate postgres",
    ),
    (
        "en",
        "Shipped! Six months of engineering work, finally live for all users 🎉",
        "shipped>ship six months>month work finally live users>user",
    ),
    (
        "en",
        "Engineering velocity went up when we deleted half our microservices",
        "deleted>delete half microservices velocity",
    ),
    ("en", "Documentation is engineering. Write it like code.", "documentation write code"),
    (
        "en",
        "Why do engineering managers stop coding? Asking for a friend",
        "asking>ask coding friend managers>manager stop",
    ),
    (
        "en",
        "The bridge collapse report is a masterclass in engineering failure analysis",
        "bridge collapse report masterclass failure analysis",
    ),
    ("en", "Railway engineering in Japan is on another level 🚄", "railway japan level"),
    ("en", "Electrical engineering meme: it's always the ground. Always.", "electrical meme ground"),
    ("en", "engineering.It is fun to build things", "fun build"),
    ("en", "What is engineering?It is applied science.", "applied>apply science"),
    (
        "en",
        "The data engineering stack in 2026: Postgres, DuckDB, and a lot of YAML",
        "data stack postgres duckdb yaml",
    ),
    (
        "en",
        "Control systems engineering: PID is all you need (mostly)",
        "control systems>system pid mostly",
    ),
    # Hashtags, handles, URLs, emoji, acronyms
    ("en", "#Engineering #AI #ML #DataScience", "ai ml datascience"),
    (
        "en",
        "#engineering tips from @bob.engineering.dev: measure twice https://bob.dev/measure",
        "tips>tip measure twice",
    ),
    ("en", "🔧🔩⚙️ engineering ⚙️🔩🔧", ""),
    ("en", "engineering engineering engineering", ""),
    ("en", "Engineering 101: F = ma", ""),
    ("en", "@alice.bsky.social engineering question: UX or QA first?", "question ux qa first"),
    ("en", "Check github.com/acme/engineering-handbook for our engineering handbook", "check handbook"),
    ("en", "www.engineering.com has a good article on engineering careers", "article careers>career"),
    (
        "en",
        "The US engineering workforce is aging, says NSF report",
        "aging nsf report us workforce",
    ),
    ("en", "IT and engineering teams need to talk more", "teams>team talk"),
    ("en", "Engineering’s dirty secret: nobody reads the docs", "dirty secret reads>read docs>doc"),
    ("en", "engineering's golden rule: KISS", "golden rule kiss"),
    ("en", "GPUs, TPUs and NPUs: hardware engineering in the AI era", "gpus tpus npus hardware ai era"),
    (
        "en",
        "LLMs are changing software engineering, for better or worse",
        "changing>change llms>llm software worse>wrong",
    ),
    ("en", "Engineering!!!! 💯💯💯 #blessed", "blessed>bless"),
    ("en", "The #1 rule of engineering: 2 + 2 = 5 for large values of 2", "rule large values>value"),
    (
        "en",
        "Engineering/design collaboration template: example.org/template",
        "design collaboration template",
    ),
    ("en", "Engineering (n.): the art of compromise", "art compromise"),
    ("en", "Hello from the engineering floor, 12th floor actually", "hello floor"),
    ("en", "Sooo much engineering today, my brain is mush", "sooo today brain mush"),
    # Posts that must not qualify
    ("en", "Reengineering our onboarding flow this quarter", None),
    ("en", "#softwareengineering is my life", None),
    ("en", "Read https://example.com/engineering for details", None),
    ("en", "thanks @engineering.bsky.social for the tip", None),
    ("en", "My engine is making a weird noise", None),
    ("en", "engineer life: meetings, meetings, meetings", None),
    ("en", "socialengineering attacks are up 40%", None),
    ("en", "See github.com/engineering for the code", None),
    ("en", "engineeringly speaking, this is fine", None),
    ("en", "Visit engineering.example.org today", None),
    # German
    (
        "de",
        "Wir suchen Ingenieure für unser Engineering-Team in München. Daten und Forschung!",
        "daten forschung ingenieure münchen suchen team",
    ),
    (
        "de",
        "Software Engineering ist mehr als Programmieren, es ist Arbeit mit Menschen",
        "software programmieren arbeit menschen",
    ),
    ("de", "Das System ist gut, aber das Engineering dahinter ist besser", "system"),
    (
        "de",
        "Neue Studie zu Reverse Engineering von Firmware: Ergebnisse überraschen",
        "ergebnisse firmware reverse studie überraschen",
    ),
    ("de", "Engineering-Kultur: Fehler sind Daten, keine Schuld", "kultur fehler daten schuld"),
    ("de", "Maschinenbau oder Engineering? Beides ist Technik", "beides maschinenbau technik"),
    ("de", "Die Brücke ist ein Meisterwerk des Engineering", "brücke meisterwerk"),
    ("de", "Heute Vortrag über Platform Engineering in Berlin #devops", "vortrag platform berlin devops"),
    ("de", "Unser Team wächst: Engineering, Forschung und Design", "team wächst forschung design"),
    ("de", "KI und Engineering: Systeme, die lernen", "ki systeme lernen"),
    (
        "de",
        "Studenten der Elektrotechnik lieben Engineering-Memes",
        "elektrotechnik lieben memes>meme studenten",
    ),
    (
        "de",
        "Engineering bei der Bahn: Signale, Weichen, Verspätungen",
        "bahn signale verspätungen weichen",
    ),
    ("de", "Ich liebe Engineering, aber nicht Meetings", "liebe meetings>meeting"),
    (
        "de",
        "Ein Roboter, gebaut von Schülern. Engineering macht Spaß!",
        "roboter gebaut schülern spaß",
    ),
    ("de", "Die Zukunft des Engineering ist offen", "zukunft"),
    # French
    (
        "fr",
        "Nous recrutons des ingénieurs pour notre équipe engineering à Lyon",
        "recrutons ingénieurs équipe lyon",
    ),
    (
        "fr",
        "Données, recherche et engineering: le travail de notre système",
        "données recherche travail système",
    ),
    ("fr", "L'engineering logiciel, c'est surtout de la communication", "logiciel communication"),
    (
        "fr",
        "Conférence sur le reverse engineering demain à Paris",
        "conférence demain paris reverse",
    ),
    ("fr", "Les étudiants en engineering travaillent trop", "étudiants travaillent"),
    ("fr", "Engineering de la fiabilité: chaque panne est une leçon", "fiabilité panne leçon"),
    ("fr", "Le pont est un chef-d'œuvre d'engineering", "pont chef œuvre"),
    (
        "fr",
        "AI et engineering: les systèmes apprennent vite",
        "ai systèmes apprennent vite",
    ),
    ("fr", "Mon stage en engineering commence lundi", "stage commence lundi"),
    ("fr", "Engineering, design et données: notre recette", "design données recette"),
    (
        "fr",
        "Les ingénieurs aiment l'engineering, quelle surprise",
        "ingénieurs aiment surprise",
    ),
    ("fr", "Plateforme engineering pour les équipes produit", "plateforme équipes produit"),
    ("fr", "Engineering nucléaire: la France construit encore", "nucléaire france construit"),
    ("fr", "Retour d'expérience sur notre migration, côté engineering", "côté expérience migration"),
    ("fr", "Je cherche un mentor en engineering", "cherche mentor"),
    # Spanish
    (
        "es",
        "Buscamos ingenieros para nuestro equipo de engineering en Madrid",
        "buscamos ingenieros equipo madrid",
    ),
    (
        "es",
        "Datos, investigación y engineering: el trabajo del sistema",
        "datos investigación trabajo sistema",
    ),
    ("es", "El engineering de software es muy difícil pero bonito", "software difícil bonito"),
    ("es", "Estudiantes de engineering construyen un robot", "construyen estudiantes robot"),
    ("es", "Charla sobre platform engineering en Barcelona", "charla platform barcelona"),
    ("es", "Engineering y diseño: una alianza necesaria", "diseño alianza necesaria"),
    ("es", "Mi primer empleo en engineering, estoy feliz", "empleo feliz"),
    ("es", "El puente es una obra maestra de engineering", "puente obra maestra"),
    ("es", "IA y engineering: los sistemas aprenden", "ia sistemas aprenden"),
    ("es", "Engineering de datos con Python y SQL", "datos python sql"),
    ("es", "Congreso de engineering civil en Bogotá", "congreso civil bogotá"),
    ("es", "Los ingenieros aman el engineering", "ingenieros aman"),
    ("es", "Engineering en México: infraestructura y energía", "méxico infraestructura energía"),
    ("es", "Curso gratis de engineering de prompts", "curso gratis prompts>prompt"),
    ("es", "Trabajo remoto en engineering, pagan bien", "trabajo remoto pagan"),
    # Portuguese
    (
        "pt",
        "Estamos contratando engenheiros para o time de engineering em São Paulo",
        "contratando engenheiros paulo time",
    ),
    ("pt", "Dados, pesquisa e engineering: o trabalho do sistema", "dados>dado pesquisa trabalho sistema"),
    ("pt", "Engineering de software é muito mais que código", "software código"),
    (
        "pt",
        "Estudantes de engineering construíram uma ponte de palitos",
        "estudantes construíram ponte palitos",
    ),
    ("pt", "Palestra sobre platform engineering no Rio", "palestra platform rio"),
    ("pt", "Você já trabalhou com engineering de dados?", "trabalhou dados>dado"),
    ("pt", "Meu primeiro emprego em engineering!", "emprego"),
    ("pt", "IA e engineering: sistemas que aprendem", "ia sistemas aprendem"),
    ("pt", "Engineering civil no Brasil: pontes e estradas", "civil brasil pontes estradas"),
    ("pt", "Trabalho remoto em engineering, vaga aberta", "aberta remoto trabalho vaga"),
    ("pt", "Os engenheiros amam engineering, né", "engenheiros amam"),
    ("pt", "Engineering e design andam juntos", "design andam juntos"),
    ("pt-BR", "Curso de engineering de dados gratuito", "curso dados>dado gratuito"),
    ("pt-BR", "Engineering em Lisboa: energia e clima", "lisboa energia clima"),
    ("pt", "Engineering de confiabilidade: cada falha ensina", "confiabilidade ensina falha"),
    # Scripts written without spaces, and mixed posts
    ("ja", "エンジニアリングの話をしよう engineering", ""),
    ("ja", "Engineeringチームで働いています", ""),
    ("ja", "AIエンジニアリング engineering 勉強会", "ai"),
    ("zh", "软件工程 engineering 很有趣", ""),
    ("zh", "Platform engineering 平台工程 团队", "platform"),
    ("th", "วิศวกรรม engineering ซอฟต์แวร์", ""),
    ("ja en", "Engineering team in Tokyo 東京 hiring", "team tokyo hiring>hire"),
    ("ko", "소프트웨어 engineering 엔지니어링 공부", "소프트웨어 엔지니어링"),
    ("ru", "Инженерия и engineering: системы и данные", "данные инженерия системы"),
    ("it", "Ingegneria ed engineering: progetti e sistemi", "ingegneria progetti sistemi"),
    # Languages missing or odd
    ("", "Engineering rocks, bridges and tunnels", "rocks>rock bridges>bridge tunnels>tunnel"),
    ("xx", "Engineering rocks", "rocks>rock"),
    ("en-US", "Engineering at scale: lessons learned", "scale lessons>lesson learned>learn"),
    ("EN", "Engineering interviews are broken", "interviews>interview broken>break"),
    ("nl", "Engineering en onderzoek: het team groeit", "onderzoek team groeit"),
    # More English variety
    (
        "en",
        "Civil engineering: the bridges we cross every day were designed by someone",
        "civil bridges>bridge cross day designed>design",
    ),
    (
        "en",
        "Engineering is the art of modeling materials we do not wholly understand",
        "art modeling>model materials>material wholly understand",
    ),
    (
        "en",
        "Systems thinking is underrated in engineering education",
        "education systems>system underrated>underrate",
    ),
    (
        "en",
        "The engineering team shipped dark mode. Users rejoice.",
        "team shipped>ship dark mode users>user rejoice",
    ),
    (
        "en",
        "How we do engineering onboarding: a buddy, a small bug, and a wiki",
        "buddy bug onboarding>onboard small wiki",
    ),
    ("en", "Aerospace engineering: every gram counts", "aerospace gram counts>count"),
    (
        "en",
        "Engineering teams that write tests ship faster. Change my mind.",
        "teams>team write tests>test ship faster>fast change mind",
    ),
    (
        "en",
        "Energy engineering: batteries, grids, and a lot of copper",
        "energy batteries>battery grids>grid copper",
    ),
    (
        "en",
        "Power engineering students visiting the dam today ⚡",
        "power students>student visiting>visit dam today",
    ),
    ("en", "Open source engineering is unpaid engineering, mostly", "mostly open source unpaid>unpay"),
    (
        "en",
        "Engineering problems with information overload: too many dashboards",
        "problems>problem information overload dashboards>dashboard",
    ),
    (
        "en",
        "World Engineering Day for Sustainable Development is March 4",
        "world day sustainable development march",
    ),
    (
        "en",
        "A test of engineering patience: debugging a race condition for 3 days",
        "condition days>day debugging>debug patience race test",
    ),
    (
        "en",
        "Design review in 10 minutes, engineering sync after, then lunch",
        "design review minutes>minute sync lunch",
    ),
    ("en", "The engineering behind espresso machines is wild ☕", "behind espresso machines>machine wild"),
    ("en", "Engineering work is invisible when it works", "work invisible works>work"),
    (
        "en",
        "Feature flags changed how our engineering org ships",
        "feature flags>flag changed>change org ships>ship",
    ),
    (
        "en",
        "Engineering job market update: more openings in hardware than software this month",
        "job market update openings>opening hardware software month",
    ),
    (
        "en",
        "Science tells you what is; engineering builds what never was",
        "science builds>build",
    ),
    (
        "en",
        "Spent the morning pairing with a junior engineer. Engineering is teaching.",
        "spent>spend morning pairing>pair junior engineer teaching>teach",
    ),
]


def expected_words(expected: str) -> Expected:
    """`"engineers>engineer team"` -> {"engineer": {"engineers"}, "team": {"team"}}."""
    found: Expected = {}
    for entry in expected.split():
        form, _, word = entry.partition(">")
        found.setdefault(word or form, set()).add(form)
    return found


def langs_of(declared: str) -> list[str]:
    return declared.split()
