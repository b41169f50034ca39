//! A labelled set of problem posts for measuring themes: 32 distinct problems, each written in
//! many differently worded posts, plus unrelated posts.
//!
//! A post of a problem is put together from that problem's own vocabulary: several names for the
//! thing it is about, several ways of saying what goes wrong, situational details and asks, in
//! different sentence shapes (a question title, a rant, a story, a request), with filler that every
//! problem shares (which pulls different problems together, as real posts do). Two posts of one
//! problem often share only one or two content words. Deterministic for a seed.

/// One generated post.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledPost {
    /// Post id (`e<seed>x<n>`, unique per seed).
    pub id: String,
    /// The problem it describes; `None` for an unrelated post.
    pub label: Option<usize>,
    /// Subreddit.
    pub subreddit: String,
    /// Author.
    pub author: String,
    /// Creation time (Unix seconds).
    pub created_utc: f64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
}

/// The vocabulary of one problem.
struct Problem {
    subs: [&'static str; 3],
    /// Names of the thing.
    things: &'static [&'static str],
    /// What goes wrong (a verb phrase after the thing).
    troubles: &'static [&'static str],
    /// Situational sentences.
    details: &'static [&'static str],
    /// What the poster asks for.
    asks: &'static [&'static str],
}

const PROBLEMS: &[Problem] = &[
    Problem {
        subs: ["sysadmin", "homelab", "datahoarder"],
        things: &[
            "backup job",
            "nightly backup",
            "backup script",
            "snapshot routine",
        ],
        troubles: &[
            "fails silently",
            "stopped running without any error",
            "reports success but the archive is empty",
            "quietly skipped the last three weeks",
        ],
        details: &[
            "Found out only when I needed to restore a file.",
            "The restore test showed corrupted archives.",
            "No alert, no email, nothing in the logs.",
            "Our NAS had no copy newer than a month.",
        ],
        asks: &[
            "How do you verify restores automatically?",
            "Is there a monitor that pings me when a backup does not finish?",
            "What do you use to get alerted on missed backups?",
        ],
    },
    Problem {
        subs: ["smallbusiness", "freelance", "entrepreneur"],
        things: &[
            "invoices",
            "client payments",
            "outstanding bills",
            "net-30 invoices",
        ],
        troubles: &[
            "are paid months late",
            "keep going overdue",
            "sit unpaid for ninety days",
            "never get paid on time",
        ],
        details: &[
            "I have to chase every client by email.",
            "Cash flow is a mess because of it.",
            "One agency owes me four thousand dollars.",
            "Reminders feel awkward to send.",
        ],
        asks: &[
            "How do you get clients to pay on time?",
            "Any tool that sends polite payment reminders?",
            "Do late fees actually work?",
        ],
    },
    Problem {
        subs: ["mealprep", "cooking", "parenting"],
        things: &[
            "weekly meal plan",
            "dinner planning",
            "grocery list",
            "menu for the week",
        ],
        troubles: &[
            "takes hours every sunday",
            "always falls apart by wednesday",
            "is exhausting with picky eaters",
            "ends with wasted food",
        ],
        details: &[
            "My kids refuse half of the recipes.",
            "We throw away vegetables every week.",
            "I keep buying the same ingredients twice.",
            "Budget for food keeps creeping up.",
        ],
        asks: &[
            "How do you plan dinners for a family?",
            "Is there an app that turns recipes into a shopping list?",
            "Tips for planning meals quickly?",
        ],
    },
    Problem {
        subs: ["personalfinance", "frugal", "povertyfinance"],
        things: &[
            "subscriptions",
            "recurring charges",
            "free trials",
            "monthly memberships",
        ],
        troubles: &[
            "renew without me noticing",
            "pile up on my card",
            "convert to paid plans before I cancel",
            "drain money I forgot about",
        ],
        details: &[
            "Found three streaming services I never watch.",
            "A gym membership billed me for a year.",
            "My bank statement is full of small charges.",
            "Cancelling requires calling a hotline.",
        ],
        asks: &[
            "How do you track what you are subscribed to?",
            "Any app that warns before a trial ends?",
            "How do I find every recurring payment?",
        ],
    },
    Problem {
        subs: ["sysadmin", "techsupport", "privacy"],
        things: &[
            "shared passwords",
            "family logins",
            "account credentials",
            "streaming passwords",
        ],
        troubles: &[
            "get sent over text messages",
            "are written on sticky notes",
            "leak when someone leaves",
            "are reused everywhere",
        ],
        details: &[
            "My parents use the same password for banking and email.",
            "The office keeps them in a spreadsheet.",
            "An ex still logs into our accounts.",
            "Password managers confuse my relatives.",
        ],
        asks: &[
            "What is the simplest password manager for non-technical family?",
            "How do you share logins safely?",
            "How do you rotate credentials when people leave?",
        ],
    },
    Problem {
        subs: ["remotework", "productivity", "projectmanagement"],
        things: &[
            "meetings across timezones",
            "standups with a distributed team",
            "calls between continents",
            "team syncs",
        ],
        troubles: &[
            "land at midnight for someone",
            "are impossible to schedule",
            "always punish the same people",
            "get rescheduled five times",
        ],
        details: &[
            "Half the team is in Asia and half in the US.",
            "Calendar invites show the wrong hour.",
            "Daylight saving breaks everything twice a year.",
            "Nobody agrees on a core hour.",
        ],
        asks: &[
            "How do you schedule across time zones fairly?",
            "Is there a tool that finds overlapping hours?",
            "Should we go async instead?",
        ],
    },
    Problem {
        subs: ["renting", "landlord", "tenantrights"],
        things: &[
            "maintenance requests",
            "repair tickets",
            "work orders",
            "complaints to the landlord",
        ],
        troubles: &[
            "get ignored for weeks",
            "disappear into a void",
            "are never answered",
            "take months to be fixed",
        ],
        details: &[
            "The heater has been broken since november.",
            "Mold is spreading in the bathroom.",
            "The property manager never picks up.",
            "I have photos of the leaking ceiling.",
        ],
        asks: &[
            "How do I document repairs so the landlord responds?",
            "Can I withhold rent legally?",
            "What is the best way to escalate?",
        ],
    },
    Problem {
        subs: ["dogs", "dogtraining", "puppy101"],
        things: &["dog", "puppy", "rescue pup", "terrier"],
        troubles: &[
            "barks nonstop when left alone",
            "howls every time I leave the apartment",
            "panics and chews the door when alone",
            "cries for hours while I am at work",
        ],
        details: &[
            "Neighbors left a note about the noise.",
            "The crate makes it worse.",
            "A camera shows the pacing starts instantly.",
            "Walking before leaving did not help.",
        ],
        asks: &[
            "How do you train separation anxiety away?",
            "Did calming collars work for anyone?",
            "Should I hire a behaviorist?",
        ],
    },
    Problem {
        subs: ["houseplants", "gardening", "plantclinic"],
        things: &["houseplants", "monstera", "succulents", "fiddle leaf fig"],
        troubles: &[
            "keep dying from overwatering",
            "get yellow leaves and root rot",
            "wilt no matter how I water",
            "drop leaves every winter",
        ],
        details: &[
            "The soil stays soggy for days.",
            "I water every sunday like the guide says.",
            "Gnats are everywhere around the pots.",
            "The window gets barely any sun.",
        ],
        asks: &[
            "How often should I really water?",
            "Is there a sensor that tells when soil is dry?",
            "How do I save roots after rot?",
        ],
    },
    Problem {
        subs: ["jobs", "careerguidance", "recruitinghell"],
        things: &[
            "job applications",
            "resumes I send",
            "interview loops",
            "applications",
        ],
        troubles: &[
            "get ghosted by recruiters",
            "never hear back",
            "vanish after the final round",
            "receive no response at all",
        ],
        details: &[
            "Two hundred applications and four replies.",
            "Recruiters stop answering after the offer talk.",
            "Each application takes an hour of custom cover letters.",
            "Automated rejections arrive months later.",
        ],
        asks: &[
            "How do you follow up without being annoying?",
            "Is it worth tracking every application in a spreadsheet?",
            "What response rate is normal?",
        ],
    },
    Problem {
        subs: ["parenting", "daddit", "mommit"],
        things: &[
            "screen time",
            "tablet use",
            "kids on phones",
            "youtube time for my son",
        ],
        troubles: &[
            "turns into tantrums when I end it",
            "is impossible to limit",
            "keeps sneaking past the parental controls",
            "eats the whole afternoon",
        ],
        details: &[
            "The built-in timer is easy to bypass.",
            "My daughter learned the passcode.",
            "Every limit starts a fight.",
            "Homework gets skipped for games.",
        ],
        asks: &[
            "What parental control actually works?",
            "How do you enforce limits without fights?",
            "How much screen time do your kids get?",
        ],
    },
    Problem {
        subs: ["bicycling", "bikecommuting", "cycling"],
        things: &["bike", "e-bike", "road bike", "bicycle"],
        troubles: &[
            "got stolen outside the station",
            "was taken despite a u-lock",
            "disappeared from the garage",
            "was stolen for the second time",
        ],
        details: &[
            "The lock was cut in broad daylight.",
            "Police said they cannot do anything.",
            "Insurance wants a serial number I never wrote down.",
            "Cameras caught nothing useful.",
        ],
        asks: &[
            "What lock do thieves not cut?",
            "Do GPS trackers help recover bikes?",
            "Where do you park safely in the city?",
        ],
    },
    Problem {
        subs: ["podcasts", "audiodrama", "podcasting"],
        things: &[
            "new podcasts",
            "podcast recommendations",
            "shows to listen to",
            "episodes worth hearing",
        ],
        troubles: &[
            "are impossible to discover",
            "are buried by the charts",
            "never match my taste",
            "all sound the same in the apps",
        ],
        details: &[
            "The top lists show the same celebrity shows.",
            "Algorithms keep suggesting true crime.",
            "I finished every show I like.",
            "Search only works if you know the name.",
        ],
        asks: &[
            "How do you find niche shows?",
            "Is there a recommender based on episodes you liked?",
            "Where do you discover new audio?",
        ],
    },
    Problem {
        subs: ["insomnia", "sleep", "anxiety"],
        things: &["sleep", "falling asleep", "my nights", "bedtime"],
        troubles: &[
            "is ruined by racing thoughts",
            "takes three hours",
            "keeps waking me at 3am",
            "never feels restful",
        ],
        details: &[
            "Melatonin stopped working.",
            "My mind replays the whole day in bed.",
            "I am exhausted at work every morning.",
            "Sleep trackers just make me anxious.",
        ],
        asks: &[
            "What helps quiet the mind at night?",
            "Has CBT-I worked for anyone?",
            "Any routine that fixed your insomnia?",
        ],
    },
    Problem {
        subs: ["homenetworking", "techsupport", "wifi"],
        things: &["wifi", "wireless signal", "router coverage", "internet upstairs"],
        troubles: &[
            "has dead zones in half the house",
            "drops in the bedroom",
            "is unusable in the basement",
            "cuts out behind thick walls",
        ],
        details: &[
            "The router sits in a closet by the door.",
            "Video calls freeze in my office.",
            "A repeater halved the speed.",
            "The house has concrete walls.",
        ],
        asks: &[
            "Is mesh worth it?",
            "Where should the access point go?",
            "Powerline adapters or extenders?",
        ],
    },
    Problem {
        subs: ["roommates", "personalfinance", "college"],
        things: &[
            "shared expenses",
            "rent and utility splits",
            "grocery costs with roommates",
            "house bills",
        ],
        troubles: &[
            "cause fights every month",
            "never add up fairly",
            "get forgotten by one roommate",
            "turn into awkward debts",
        ],
        details: &[
            "One roommate always pays late.",
            "We track it in a group chat.",
            "Electricity bills vary a lot.",
            "Someone eats everyone's food.",
        ],
        asks: &[
            "How do you split bills fairly?",
            "Is there an app that tracks who owes what?",
            "How do you bring up money with roommates?",
        ],
    },
    Problem {
        subs: ["languagelearning", "learnspanish", "duolingo"],
        things: &[
            "language learning",
            "my spanish practice",
            "studying vocabulary",
            "learning japanese",
        ],
        troubles: &[
            "loses motivation after a month",
            "plateaus at beginner level",
            "feels pointless without speaking",
            "stalls whenever life gets busy",
        ],
        details: &[
            "I kept a streak for 300 days and still cannot talk.",
            "Flashcards bore me to death.",
            "Nobody around me speaks the language.",
            "Grammar books put me to sleep.",
        ],
        asks: &[
            "How do you stay motivated?",
            "Where do you find conversation partners?",
            "What got you past the plateau?",
        ],
    },
    Problem {
        subs: ["cartalk", "mechanicadvice", "cars"],
        things: &[
            "car maintenance",
            "oil changes",
            "service intervals",
            "tire rotations",
        ],
        troubles: &[
            "slip my mind until something breaks",
            "get forgotten for months",
            "are overdue every time I check",
            "never happen on schedule",
        ],
        details: &[
            "The dashboard light came on way too late.",
            "I lost the service booklet.",
            "The dealer charged for a missed inspection.",
            "Two cars in the family make it worse.",
        ],
        asks: &[
            "How do you track maintenance?",
            "Any app that reminds by mileage?",
            "What schedule do you follow?",
        ],
    },
    Problem {
        subs: ["productivity", "gmail", "digitalminimalism"],
        things: &["inbox", "email", "newsletters", "promotional mail"],
        troubles: &[
            "overflows with thousands of unread messages",
            "buries the important messages",
            "is impossible to keep at zero",
            "grows faster than I can unsubscribe",
        ],
        details: &[
            "I missed a contract email under the promotions.",
            "Unsubscribing does not stop them.",
            "Filters break every few weeks.",
            "Work and personal mail are mixed.",
        ],
        asks: &[
            "How do you tame email?",
            "Is there a bulk unsubscribe that works?",
            "What filter rules do you use?",
        ],
    },
    Problem {
        subs: ["photography", "datahoarder", "googlephotos"],
        things: &[
            "photo library",
            "pictures from my phone",
            "family photos",
            "camera roll",
        ],
        troubles: &[
            "is full of duplicates",
            "is a chaotic mess across drives",
            "has the same shots three times",
            "cannot be searched at all",
        ],
        details: &[
            "Fifty thousand images across four laptops.",
            "Cloud sync created copies of everything.",
            "Dates are wrong on scanned prints.",
            "Storage is almost full.",
        ],
        asks: &[
            "What tool finds duplicate images?",
            "How do you organize decades of photos?",
            "How do you dedupe safely?",
        ],
    },
    Problem {
        subs: ["weddingplanning", "wedding", "eventplanning"],
        things: &[
            "RSVPs",
            "guest responses",
            "wedding invitations replies",
            "guest list",
        ],
        troubles: &[
            "are impossible to keep track of",
            "come back incomplete",
            "arrive by text, email and phone",
            "are missing for half the guests",
        ],
        details: &[
            "Meal choices are spread across three chats.",
            "Plus-ones keep changing.",
            "The venue needs a final count next week.",
            "My spreadsheet has conflicting versions.",
        ],
        asks: &[
            "How do you collect RSVPs in one place?",
            "Is a wedding website worth it?",
            "How do you chase missing replies?",
        ],
    },
    Problem {
        subs: ["freelance", "consulting", "webdev"],
        things: &[
            "billable hours",
            "time tracking",
            "hours for clients",
            "timesheets",
        ],
        troubles: &[
            "slip through the cracks",
            "get underreported",
            "are a pain to log accurately",
            "are forgotten at the end of the day",
        ],
        details: &[
            "I undercharge because I forget short calls.",
            "Switching projects resets my timer.",
            "Clients ask for detailed breakdowns.",
            "Reconstructing a week from memory takes hours.",
        ],
        asks: &[
            "What tracker do you use?",
            "Is automatic time tracking accurate?",
            "How do you capture small tasks?",
        ],
    },
    Problem {
        subs: ["restaurantowners", "smallbusiness", "kitchenconfidential"],
        things: &[
            "reservations",
            "table bookings",
            "dinner reservations",
            "party bookings",
        ],
        troubles: &[
            "end in no-shows",
            "are abandoned without notice",
            "leave empty tables every friday",
            "get cancelled last minute",
        ],
        details: &[
            "Groups of eight just do not show up.",
            "We turned away walk-ins for them.",
            "Deposits scare customers off.",
            "Confirmation calls take staff time.",
        ],
        asks: &[
            "Do deposits reduce no-shows?",
            "Any booking system with reminders?",
            "How do you handle repeat no-shows?",
        ],
    },
    Problem {
        subs: ["smallbusiness", "etsy", "shopify"],
        things: &["inventory", "stock levels", "best sellers", "supplies"],
        troubles: &[
            "run out before I notice",
            "are always wrong in the system",
            "sell out without warning",
            "hit zero during busy weeks",
        ],
        details: &[
            "Online and in-store sales are not synced.",
            "Counting by hand takes a weekend.",
            "Suppliers need two weeks of lead time.",
            "We oversold items we did not have.",
        ],
        asks: &[
            "How do you track stock across channels?",
            "Any alert when inventory gets low?",
            "What reorder point do you use?",
        ],
    },
    Problem {
        subs: ["techsupport", "printers", "sysadmin"],
        things: &["printer", "office printer", "wireless printer", "scanner"],
        troubles: &[
            "goes offline every day",
            "refuses to print from laptops",
            "loses its driver after updates",
            "shows as disconnected for no reason",
        ],
        details: &[
            "Reinstalling drivers fixes it for an hour.",
            "The print queue jams with ghost jobs.",
            "Windows updates break it monthly.",
            "Only the phone app can still see it.",
        ],
        asks: &[
            "Which printer just works?",
            "How do you keep drivers stable?",
            "Is there a fix for the offline status?",
        ],
    },
    Problem {
        subs: ["agingparents", "caregiving", "eldercare"],
        things: &[
            "my mother's medication",
            "pills for my dad",
            "prescriptions of my grandparents",
            "daily medicine",
        ],
        troubles: &[
            "gets skipped or doubled",
            "is forgotten when I am not there",
            "is taken at the wrong times",
            "runs out before refills",
        ],
        details: &[
            "She takes nine different pills.",
            "Pill boxes confuse him.",
            "I live two hours away.",
            "The pharmacy refills at different dates.",
        ],
        asks: &[
            "What reminder works for elderly people?",
            "Are smart pill dispensers worth it?",
            "How do you coordinate refills?",
        ],
    },
    Problem {
        subs: ["apartmentliving", "renting", "neighbors"],
        things: &[
            "upstairs neighbors",
            "the people above us",
            "the apartment upstairs",
            "neighbors above",
        ],
        troubles: &[
            "stomp around until 2am",
            "make footsteps sound like thunder",
            "drop things all night",
            "are loud every single night",
        ],
        details: &[
            "Earplugs do not block the thumping.",
            "We asked politely twice.",
            "Management says it is normal living noise.",
            "Our baby wakes up from it.",
        ],
        asks: &[
            "How do you deal with loud neighbors?",
            "Does soundproofing the ceiling work?",
            "Should I complain to the building?",
        ],
    },
    Problem {
        subs: ["fitness", "loseit", "gym"],
        things: &["gym routine", "workouts", "training schedule", "exercise habit"],
        troubles: &[
            "falls apart after two weeks",
            "never becomes consistent",
            "stops whenever work gets busy",
            "dies every january",
        ],
        details: &[
            "I pay for a membership I barely use.",
            "Mornings are impossible for me.",
            "Progress is too slow to keep me going.",
            "Working out alone is boring.",
        ],
        asks: &[
            "How do you stay consistent?",
            "Did a workout buddy help?",
            "What got you into the habit?",
        ],
    },
    Problem {
        subs: ["travel", "flights", "solotravel"],
        things: &["flight prices", "airfare", "plane tickets", "fares"],
        troubles: &[
            "jump every time I check",
            "change daily with no pattern",
            "double the week before I book",
            "spike after I search twice",
        ],
        details: &[
            "Incognito mode did not help.",
            "I watched the same route for a month.",
            "Budget airlines add fees at checkout.",
            "Alerts arrive after the deal is gone.",
        ],
        asks: &[
            "When is the best time to book?",
            "Which price tracker do you trust?",
            "Do fare alerts really work?",
        ],
    },
    Problem {
        subs: ["sales", "startups", "smallbusiness"],
        things: &[
            "sales leads",
            "prospects",
            "follow-ups with leads",
            "cold outreach",
        ],
        troubles: &[
            "fall through the cracks",
            "get lost in spreadsheets",
            "go cold because nobody follows up",
            "are tracked in five different places",
        ],
        details: &[
            "Our CRM is too complicated for the team.",
            "Sticky notes are our pipeline.",
            "We forgot a hot lead for three weeks.",
            "Reps keep their contacts private.",
        ],
        asks: &[
            "What simple CRM do you use?",
            "How do you remember follow-ups?",
            "How do you keep the pipeline clean?",
        ],
    },
    Problem {
        subs: ["college", "gradschool", "studying"],
        things: &[
            "group projects",
            "team assignments",
            "group work",
            "class projects",
        ],
        troubles: &[
            "are carried by one person",
            "suffer from members who do nothing",
            "end with me doing everything",
            "have freeloaders who still get the grade",
        ],
        details: &[
            "Two teammates vanished until the deadline.",
            "The professor ignores peer reviews.",
            "We split tasks and nobody delivered.",
            "I rewrote the whole report at 4am.",
        ],
        asks: &[
            "How do you handle slackers?",
            "Should I tell the professor?",
            "How do you divide work fairly?",
        ],
    },
    Problem {
        subs: ["homeowners", "diy", "hvac"],
        things: &["heating bill", "energy costs", "gas bill", "electricity usage"],
        troubles: &[
            "doubled this winter",
            "is out of control",
            "keeps climbing every month",
            "is higher than our rent",
        ],
        details: &[
            "The thermostat is set to 19 degrees.",
            "Drafts come through every window.",
            "The old boiler runs constantly.",
            "We cannot tell which device uses the most.",
        ],
        asks: &[
            "How do you find where energy goes?",
            "Is a smart thermostat worth it?",
            "Which insulation upgrade paid off?",
        ],
    },
];

/// Filler sentences any post may have (shared across problems, as in real posts).
const FILLER: &[&str] = &[
    "Long time lurker, first post.",
    "Sorry for the long post.",
    "This has been going on for months now.",
    "Honestly at my wit's end here.",
    "Would really appreciate any suggestions.",
    "Not sure if this is the right sub.",
    "Any recommendations welcome.",
    "I feel like I have tried everything.",
];

/// Unrelated posts: each on its own topic, sharing nothing with the problems.
const UNRELATED: &[&str] = &[
    "Saw a double rainbow over the lake today",
    "Finished my first marathon painting of the harbour",
    "What is the oldest coin in your collection",
    "My grandmother's lasagna recipe turned out great",
    "Rate my vintage synthesizer setup",
    "Caught a huge trout at the river this morning",
    "Which chess opening should a beginner learn",
    "Just adopted a kitten named pickle",
    "Best sci-fi novel you read this year",
    "Built a birdhouse from reclaimed pallets",
    "The northern lights were visible from my town",
    "Knitting a scarf for my brother's birthday",
    "Visited the museum of natural history with my nephew",
    "My sourdough starter finally bubbled",
    "Thoughts on the new season of the baking show",
    "Found a fossil while hiking along the cliffs",
    "Learning to juggle three balls",
    "Repainted my old skateboard deck",
    "What board game do you play at family gatherings",
    "Spotted an owl in the backyard tonight",
    "Our choir sang at the cathedral on sunday",
    "Restored a rusty cast iron skillet",
    "Which telescope eyepiece shows saturn's rings",
    "Made paper lanterns for the street festival",
    "The volcano tour in iceland was unforgettable",
    "My tomato harvest broke a record",
    "Drew a portrait of my grandfather in charcoal",
    "Is it normal for parrots to mimic the microwave",
    "Watched a documentary about deep sea squids",
    "Carved a wooden spoon at a weekend workshop",
    "Shared a picnic with ducks at the pond",
    "Translated an old family letter from italian",
    "Climbed the lighthouse stairs at dawn",
    "Sewed a quilt from childhood t-shirts",
    "Our town's marching band won the parade prize",
    "Tasted ten kinds of honey at the farm fair",
    "Framed a map of the medieval trade routes",
    "The meteor shower peaked around midnight",
    "Brewed ginger beer in the garage",
    "Collected sea glass along the northern beach",
];

/// Deterministic pseudo-random numbers (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// How many unrelated topics [`generate`] has.
pub fn unrelated_count() -> usize {
    UNRELATED.len()
}

/// How many problems [`generate`] writes about.
pub fn problem_count() -> usize {
    PROBLEMS.len()
}

fn write_post(p: &Problem, rng: &mut Rng) -> (String, String) {
    let thing = rng.pick(p.things);
    let trouble = rng.pick(p.troubles);
    let ask = rng.pick(p.asks);
    let detail = rng.pick(p.details);
    let title = match rng.below(5) {
        0 => format!("My {thing} {trouble}"),
        1 => format!("{} - {}", capitalize(ask.trim_end_matches('?')), thing),
        2 => format!(
            "Why does my {thing} always {}?",
            trouble.split(' ').next().unwrap_or(trouble)
        ),
        3 => format!("Rant: {thing} that {trouble}"),
        _ => capitalize(detail.trim_end_matches('.')),
    };
    let mut body = Vec::new();
    if rng.below(3) == 0 {
        body.push(rng.pick(FILLER).to_owned());
    }
    match rng.below(3) {
        0 => {
            body.push(format!(
                "Every time, the {} {}.",
                rng.pick(p.things),
                rng.pick(p.troubles)
            ));
            body.push(detail.to_owned());
        }
        1 => {
            body.push(detail.to_owned());
            body.push(rng.pick(p.details).to_owned());
        }
        _ => body.push(format!(
            "So the {} {} again. {}",
            rng.pick(p.things),
            rng.pick(p.troubles),
            detail
        )),
    }
    body.push(ask.to_owned());
    if rng.below(2) == 0 {
        body.push(rng.pick(FILLER).to_owned());
    }
    (title, body.join(" "))
}

/// Generates `per_problem` posts for each problem and `unrelated` unrelated posts, created over
/// `weeks` weeks ending at `end` (Unix seconds); at most [`unrelated_count`] unrelated posts, one per
/// topic. Ids are unique for a `seed`; a problem's posts
/// spread over its three subreddits.
pub fn generate(seed: u64, per_problem: usize, unrelated: usize, weeks: u32, end: f64) -> Vec<LabelledPost> {
    let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d).wrapping_add(1));
    let span = f64::from(weeks.max(1)) * 7.0 * 86_400.0;
    let mut out = Vec::new();
    let mut n = 0u64;
    let next_id = |n: &mut u64| {
        *n += 1;
        format!("e{seed}x{n}")
    };
    for (label, p) in PROBLEMS.iter().enumerate() {
        for _ in 0..per_problem {
            let (title, body) = write_post(p, &mut rng);
            out.push(LabelledPost {
                id: next_id(&mut n),
                label: Some(label),
                subreddit: p.subs[rng.below(3)].to_owned(),
                author: format!("user{}", rng.below(5_000)),
                created_utc: (end - span + (rng.next() % 1_000_000) as f64 / 1_000_000.0 * span).floor(),
                title,
                body,
            });
        }
    }
    for topic in UNRELATED.iter().take(unrelated) {
        out.push(LabelledPost {
            id: next_id(&mut n),
            label: None,
            subreddit: "casualconversation".to_owned(),
            author: format!("user{}", rng.below(5_000)),
            created_utc: (end - span + (rng.next() % 1_000_000) as f64 / 1_000_000.0 * span).floor(),
            title: (*topic).to_owned(),
            body: rng.pick(FILLER).to_owned(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_labelled_and_varied() {
        let a = generate(7, 10, 20, 8, 1_796_601_600.0);
        assert_eq!(a, generate(7, 10, 20, 8, 1_796_601_600.0));
        assert_eq!(a.len(), PROBLEMS.len() * 10 + 20);
        assert!(PROBLEMS.len() >= 30);
        // Posts of one problem are not copies of each other.
        let titles: std::collections::HashSet<&str> = a
            .iter()
            .filter(|p| p.label == Some(0))
            .map(|p| p.title.as_str())
            .collect();
        assert!(titles.len() >= 7, "{titles:?}");
    }
}
